"""Training targets: what happens after each bar, over 1, 4 and 24 bars.

For a bar at row t and a horizon h (in bars of the series itself):

- ``ret_{h}``: the forward simple return ``close[t + h] / close[t] - 1``;
- ``dir_{h}``: its direction class, 0 down / 1 flat / 2 up, where "flat" means
  ``|ret_{h}| <= flat_band * sqrt(h)``; the band grows with the square root of the horizon because
  the spread of a sum of h roughly independent returns does, so the flat share stays comparable
  across horizons;
- ``vol_{h}``: the forward realised volatility, ``sqrt(mean(r[t+1..t+h] ** 2))`` over the log
  returns ``r[i] = log(close[i] / close[i-1])`` (not demeaned, not annualised: one bar's units,
  so ``vol_1`` is ``|r[t+1]|``).

The last h rows have no future, so their labels are NaN (``dir_{h}`` is therefore float64).
A label uses future bars by definition; features never may (see :mod:`features.lookahead`).
Labels use ``close`` like the features do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from contract.errors import BarDataError

# Label horizons in bars (re-exported here); the longest fixes the walk-forward embargo.
from contract.model import HORIZONS

# Half-width of the flat class for a one-bar return: 0.2% makes about 10% of AAPL's and 23% of
# SPY's daily moves flat in the sample (fewer at 24 bars); intraday series want a smaller band.
DEFAULT_FLAT_BAND = 0.002

DOWN, FLAT, UP = 0, 1, 2  # direction classes, in the order of the model's logits


def label_names(horizons: Sequence[int] = HORIZONS) -> list[str]:
    """The columns :func:`make_labels` returns (besides ``timestamp``), in order."""
    return [f"{kind}_{h}" for h in horizons for kind in ("ret", "dir", "vol")]


def make_labels(
    bars: pd.DataFrame,
    horizons: Sequence[int] = HORIZONS,
    flat_band: float = DEFAULT_FLAT_BAND,
) -> pd.DataFrame:
    """Forward return, direction class and realised volatility for every bar and horizon.

    Returns a frame aligned row for row with ``bars``: ``timestamp`` then, for each horizon,
    ``ret_{h}``, ``dir_{h}``, ``vol_{h}``; NaN where the future is not in ``bars``.
    """
    close = _closes(bars)
    if not horizons or any(int(h) != h or h < 1 for h in horizons):
        raise ValueError(f"horizons must be positive whole numbers of bars, got {horizons!r}")
    if not np.isfinite(flat_band) or flat_band < 0:
        raise ValueError(f"flat_band must be a non-negative number, got {flat_band!r}")

    squared_return = np.diff(np.log(close)) ** 2  # r[i]^2 for i = 1..T-1, at position i-1

    labels = {"timestamp": bars["timestamp"].to_numpy()}
    for h in horizons:
        h = int(h)
        forward_return = _shift_back(close, h) / close - 1.0
        band = flat_band * np.sqrt(h)
        direction = np.where(forward_return > band, UP, FLAT)
        direction = np.where(forward_return < -band, DOWN, direction)
        forward_vol = np.full(len(close), np.nan)
        if h < len(close):  # row t averages r[t+1..t+h]: the window starting at position t
            forward_vol[: len(close) - h] = np.sqrt(
                sliding_window_view(squared_return, h).mean(axis=1)
            )
        labels[f"ret_{h}"] = forward_return
        labels[f"dir_{h}"] = np.where(np.isnan(forward_return), np.nan, direction)
        labels[f"vol_{h}"] = forward_vol
    return pd.DataFrame(labels, index=bars.index)


def _closes(bars: pd.DataFrame) -> np.ndarray:
    """The close prices as float64, refusing what would make a label meaningless."""
    if "close" not in bars.columns or "timestamp" not in bars.columns:
        raise BarDataError("labels need bars with 'timestamp' and 'close' columns")
    close = bars["close"].to_numpy(dtype="float64")
    bad = ~np.isfinite(close) | (close <= 0)
    if bad.any():
        row = int(np.argmax(bad))
        raise BarDataError(f"labels: row {row} has close {close[row]!r}; need a positive number")
    stamps = bars["timestamp"]
    if not stamps.is_monotonic_increasing or stamps.duplicated().any():
        raise BarDataError("labels: bars must be sorted by timestamp without duplicates")
    return close


def _shift_back(values: np.ndarray, h: int) -> np.ndarray:
    """``values[t + h]`` at row t, NaN where t + h is past the end."""
    shifted = np.full(len(values), np.nan)
    if h < len(values):
        shifted[: len(values) - h] = values[h:]
    return shifted
