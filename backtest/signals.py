"""Signal frames and the bars they trade on: loading and checking.

A signal frame has one row per (timestamp, symbol): ``position``, the target in [-1, 1] decided
at that bar's close, and optionally ``fold`` (the walk-forward fold it came from). Every row must
sit on a bar of its symbol, because the simulator trades it at that symbol's next bar.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from contract.errors import BarDataError, UnknownSymbolError

SIGNAL_COLUMNS = ("timestamp", "symbol", "position")
CSV_SUFFIXES = (".csv", ".csv.gz")


def read_signals(path: str | Path) -> pd.DataFrame:
    """Read a signal file (CSV or Parquet) as it is; :func:`validate_signals` checks it."""
    path = Path(path)
    if not path.exists():
        raise BarDataError(f"{path}: no such signal file")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path)


def validate_signals(
    frame: pd.DataFrame, bars: Mapping[str, pd.DataFrame], origin: str = "signals"
) -> pd.DataFrame:
    """Check a signal frame against ``bars`` and return it with UTC timestamps and float positions.

    Errors name ``origin`` and the row (its position in the frame, from 0): missing columns, NaN,
    positions outside [-1, 1], unsorted or duplicated rows, unknown symbols, and timestamps that
    are not bars of their symbol (before, after or between its bars).
    """
    missing = [name for name in SIGNAL_COLUMNS if name not in frame.columns]
    if missing:
        raise BarDataError(f"{origin}: missing column {', '.join(map(repr, missing))}")
    if frame.empty:
        raise BarDataError(f"{origin}: no signals")
    signals = frame.reset_index(drop=True).copy()
    signals["symbol"] = signals["symbol"].astype(str).str.upper()

    def fail(row: int, problem: str) -> BarDataError:
        symbol, stamp = signals.at[row, "symbol"], signals.at[row, "timestamp"]
        return BarDataError(f"{origin}, row {row} ({symbol} {stamp}): {problem}")

    for name in SIGNAL_COLUMNS:
        empty = signals[name].isna().to_numpy()
        if empty.any():
            raise fail(int(empty.argmax()), f"{name} is missing (NaN)")
    try:
        stamps = pd.to_datetime(signals["timestamp"], utc=True)
    except (ValueError, TypeError) as error:
        raise BarDataError(f"{origin}: timestamps not readable ({error})") from None
    signals["timestamp"] = stamps.astype("datetime64[ns, UTC]")
    positions = pd.to_numeric(signals["position"], errors="coerce").to_numpy(dtype=np.float64)
    outside = ~(np.abs(positions) <= 1.0)  # NaN (unreadable) counts as outside
    if outside.any():
        row = int(outside.argmax())
        value = signals.at[row, "position"]
        shown = repr(value) if isinstance(value, str) else str(value)
        raise fail(row, f"position {shown} is not a number in [-1, 1]")
    signals["position"] = positions

    backwards = (signals["timestamp"].diff() < pd.Timedelta(0)).to_numpy()
    if backwards.any():
        raise fail(int(backwards.argmax()), "timestamp earlier than the row before (sort by time)")
    repeated = signals.duplicated(["timestamp", "symbol"]).to_numpy()
    if repeated.any():
        raise fail(int(repeated.argmax()), "a second signal for the same symbol and timestamp")

    for symbol, rows in signals.groupby("symbol", sort=False).groups.items():
        if symbol not in bars:
            row = int(min(rows))
            known = ", ".join(sorted(bars)) or "none"
            raise UnknownSymbolError(f"{origin}, row {row}: no bars for symbol {symbol} "
                                     f"(bars loaded for: {known})")
        on_bar = signals.loc[rows, "timestamp"].isin(bars[symbol]["timestamp"]).to_numpy()
        if not on_bar.all():
            row = int(np.asarray(rows)[~on_bar][0])
            first, last = bars[symbol]["timestamp"].iloc[[0, -1]]
            raise fail(row, f"no {symbol} bar at this time (its bars: {first} .. {last})")
    return signals


def load_bars(
    symbols: Iterable[str],
    bars_spec: str | None = None,
    bars_dir: Path | None = None,
    timeframe: str = "1d",
) -> dict[str, pd.DataFrame]:
    """Bars for the backtest, by symbol.

    ``bars_spec`` is a comma-separated list of symbols (read from the bar store in ``bars_dir``)
    and/or CSV files (the symbol is the file name up to ``.csv``); without it, ``symbols`` are
    read from the store.
    """
    from marketdata.csv_import import read_bars_csv
    from marketdata.store import BarStore

    items = [item.strip() for item in bars_spec.split(",")] if bars_spec else list(symbols)
    bars: dict[str, pd.DataFrame] = {}
    for item in filter(None, items):
        if item.lower().endswith(CSV_SUFFIXES):
            path = Path(item)
            bars[path.name.split(".")[0].upper()] = read_bars_csv(path)
        else:
            if bars_dir is None:
                raise UnknownSymbolError(f"no bar store given to read {item} from")
            bars[item.upper()] = BarStore(bars_dir).read(item.upper(), timeframe)
    return bars
