"""Tiny hand-made bars and signals for cases whose answer is computed by hand."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def make_bars(
    opens: Sequence[float],
    closes: Sequence[float] | None = None,
    start: str = "2020-01-06",
    freq: str = "D",
) -> pd.DataFrame:
    """A bar frame with the given opens and closes (closes default to the opens)."""
    opens = np.asarray(opens, dtype=np.float64)
    closes = opens if closes is None else np.asarray(closes, dtype=np.float64)
    return pd.DataFrame({
        "timestamp": pd.date_range(start, periods=len(opens), freq=freq, tz="UTC"),
        "open": opens,
        "high": np.maximum(opens, closes),
        "low": np.minimum(opens, closes),
        "close": closes,
        "volume": 1_000.0,
    })


def make_signals(bars: pd.DataFrame, symbol: str, positions: Sequence[float]) -> pd.DataFrame:
    """One signal per bar of ``bars`` (the first ``len(positions)`` bars) for ``symbol``."""
    return pd.DataFrame({
        "timestamp": bars["timestamp"].iloc[: len(positions)].to_numpy(),
        "symbol": symbol,
        "position": np.asarray(positions, dtype=np.float64),
    })
