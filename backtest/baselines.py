"""Baseline signals that every report compares against, run through the same simulator and costs."""

from __future__ import annotations

import pandas as pd


def buy_and_hold_signals(signals: pd.DataFrame, bars: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A full long position in every symbol of ``signals``, on each of its bars in their span.

    Buy-and-hold therefore buys at the second bar's open (like any signal) and pays the same
    costs as the strategy.
    """
    start, end = signals["timestamp"].min(), signals["timestamp"].max()
    frames = []
    for symbol in sorted(signals["symbol"].unique()):
        stamps = bars[symbol]["timestamp"]
        stamps = stamps[(stamps >= start) & (stamps <= end)]
        frames.append(pd.DataFrame({"timestamp": stamps, "symbol": symbol, "position": 1.0}))
    held = pd.concat(frames, ignore_index=True)
    return held.sort_values(["timestamp", "symbol"], kind="stable", ignore_index=True)
