"""Data sources: one module per vendor behind one interface, picked by name.

``make_source("alpaca" | "yfinance" | "binance")`` gives a :class:`BarSource`; :func:`download`
fetches what the store does not have yet and appends it.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from tqdm import tqdm

from contract.errors import UnknownSymbolError
from marketdata.bars import TIMEFRAMES, check_timeframe
from marketdata.sources import alpaca, binance, yfinance_source  # noqa: F401  (fills SOURCES)
from marketdata.sources.base import SOURCES, BarSource, RetryConfig, make_source, register
from marketdata.store import BarStore

__all__ = ["SOURCES", "BarSource", "RetryConfig", "download", "make_source", "register"]


def download(
    source: BarSource,
    symbols: Iterable[str],
    timeframe: str,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp | None,
    store: BarStore,
    progress: bool = False,
) -> dict[str, int]:
    """Fetch each symbol from after its last stored bar (or ``start``) to ``end`` and store it.

    Returns the bars added per symbol. ``end`` None means now.
    """
    end = end if end is not None else pd.Timestamp.now(tz="UTC")
    check_timeframe(timeframe)
    symbols = [symbol.upper() for symbol in symbols]
    source.check_ready(symbols)
    added = {}
    # leave=False: a failure's one-line error is not preceded by a half-drawn bar
    with tqdm(symbols, desc=f"{source.name} {timeframe}", unit="symbol", leave=False,
              disable=not progress) as bar:
        for symbol in bar:
            begin = start
            try:
                last = store.read(symbol, timeframe)["timestamp"].iloc[-1]
                begin = max(start, last + TIMEFRAMES[timeframe])
            except UnknownSymbolError:
                pass  # nothing stored yet: fetch from start
            bars = source.fetch(symbol, timeframe, begin, end) if begin < end else None
            added[symbol] = 0 if bars is None else store.write(symbol, timeframe, bars)
    return added
