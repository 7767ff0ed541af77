"""Bars named on a command line: a CSV file, else a stored symbol; context as NAME=SPEC items."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from marketdata.csv_import import read_bars_csv
from marketdata.store import BarStore


def read_series(spec: str, bars_dir: Path, timeframe: str = "1d") -> pd.DataFrame:
    """Bars from a CSV file when ``spec`` names an existing file, else the stored symbol."""
    if Path(spec).is_file():
        return read_bars_csv(spec)
    return BarStore(bars_dir).read(spec.upper(), timeframe)


def read_context(items: list[str], bars_dir: Path, timeframe: str = "1d"
                 ) -> dict[str, pd.DataFrame]:
    """Context series from ``NAME=CSV_OR_SYMBOL[@TIMEFRAME]`` items (a bare ``NAME`` is a
    stored symbol); stored symbols are read at ``@TIMEFRAME``, else ``timeframe``. Any
    timeframe goes with any other: the join compares known-at times."""
    context = {}
    for item in items:
        name, _, spec = item.partition("=")
        spec, _, own_timeframe = (spec or name).partition("@")
        context[name.upper()] = read_series(spec, bars_dir, own_timeframe or timeframe)
    return context
