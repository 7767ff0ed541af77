"""Sequence windows: the (60 bars x F features) samples a model reads, as views, not copies.

The feature rows of every symbol are stacked into one float32 matrix. A window is 60
consecutive rows of it, so all windows together are one strided view of that matrix
(``numpy.lib.stride_tricks.sliding_window_view``): a window costs no memory until a batch is
gathered. A window *end* (its last row, the bar the prediction is made at) is valid when

- all 60 rows belong to one symbol (windows never cross a symbol boundary),
- every value in the 60 rows is finite (no indicator warm-up left; context NaN was already
  replaced by its ``fill_missing`` value, see :func:`model_matrix`),
- no gap lies inside the window (see :func:`gap_before`), and
- when labels are asked for, every label at the end row is finite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from contract.errors import BarDataError, TradecastError
from contract.model import WINDOW  # bars per model input window (re-exported here)
from features.engine import FEATURE_SPECS

# A step longer than this many typical steps is a gap. For daily bars that allows a weekend
# plus two closed weekdays (5 days; the 2012 hurricane closure) and flags the week-long
# closure after 11 September 2001 or a missing week of data.
GAP_FACTOR = 5
SESSION_BREAK = pd.Timedelta(days=4)  # intraday: the longest normal overnight/weekend pause


def model_matrix(frame: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """The columns ``names`` of a feature frame as float32 ``(T, F)``, ready for a model.

    Market-context columns (``FeatureSpec.fill_missing`` set) have their NaN replaced by that
    value (their ``*_available`` flag tells the model); warm-up NaN stays NaN so that windows
    containing it are refused rather than silently filled.
    """
    unknown = [name for name in names if name not in FEATURE_SPECS]
    if unknown:
        raise TradecastError(f"not engine features: {', '.join(unknown)}")
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise TradecastError(f"feature frame lacks columns: {', '.join(missing)}")
    matrix = np.empty((len(frame), len(names)), dtype=np.float32)
    for column, name in enumerate(names):
        values = frame[name].to_numpy(dtype=np.float64)
        fill = FEATURE_SPECS[name].fill_missing
        if fill is not None:
            values = np.where(np.isnan(values), fill, values)
        matrix[:, column] = values
    return matrix


def gap_before(
    timestamps: pd.Series | np.ndarray, max_step: pd.Timedelta | None = None
) -> np.ndarray:
    """True at row i when the step from row i - 1 to row i is a gap in the data (False at 0).

    With ``max_step`` given, a gap is any longer step. Otherwise the typical step is the median
    one: for daily or slower bars a gap is a step over ``GAP_FACTOR`` typical steps; for
    intraday bars it is such a step within one day, or a pause of more than ``SESSION_BREAK``
    between days (the night and the weekend between sessions are not gaps).
    """
    stamps = pd.DatetimeIndex(pd.to_datetime(np.asarray(timestamps), utc=True)).as_unit("ns")
    steps = np.diff(stamps.asi8)
    gaps = np.zeros(len(stamps), dtype=bool)
    if len(steps) == 0:
        return gaps
    if max_step is not None:
        gaps[1:] = steps > pd.Timedelta(max_step).value
        return gaps
    typical = np.median(steps)
    too_long = steps > GAP_FACTOR * typical
    if typical < pd.Timedelta(days=1).value:
        days = stamps.normalize().asi8
        new_day = days[1:] != days[:-1]
        too_long = np.where(new_day, steps > SESSION_BREAK.value, too_long)
    gaps[1:] = too_long
    return gaps


class SequenceWindows:
    """All valid 60-bar windows of many symbols, with their labels, over one shared matrix.

    ``features`` maps each symbol to its feature frame (``timestamp`` plus feature columns, one
    row per bar, sorted); ``labels``, when given, maps each symbol to a frame aligned row for row
    with its features (for example :func:`features.labels.make_labels`), and ``label_columns``
    picks the targets (default: every column but ``timestamp``).
    """

    def __init__(
        self,
        features: Mapping[str, pd.DataFrame],
        names: Sequence[str],
        labels: Mapping[str, pd.DataFrame] | None = None,
        label_columns: Sequence[str] | None = None,
        window: int = WINDOW,
        max_step: pd.Timedelta | None = None,
    ) -> None:
        if not features:
            raise TradecastError("sequence windows need at least one symbol")
        self.names = list(names)
        self.window = window
        self.symbols = list(features)
        if labels is not None and label_columns is None:
            first = next(iter(labels.values()))
            label_columns = [c for c in first.columns if c != "timestamp"]
        self.label_columns = list(label_columns) if labels is not None else []

        matrices, targets, stamps, ends, offset = [], [], [], [], 0
        for symbol in self.symbols:
            frame = features[symbol]
            matrix = model_matrix(frame, self.names)
            finite_rows = np.isfinite(matrix).all(axis=1)
            labelled = np.ones(len(frame), dtype=bool)
            if labels is not None:
                target = self._aligned_labels(symbol, frame, labels)
                labelled = np.isfinite(target).all(axis=1)
                targets.append(target)
            row_stamps = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True))
            row_stamps = row_stamps.as_unit("ns")
            if not row_stamps.is_monotonic_increasing or row_stamps.has_duplicates:
                raise BarDataError(f"{symbol}: feature rows must be sorted without duplicates")
            gaps = gap_before(row_stamps, max_step)
            ends.append(offset + _valid_ends(finite_rows, gaps, labelled, window))
            matrices.append(matrix)
            stamps.append(row_stamps.asi8)
            offset += len(frame)

        self.matrix = np.ascontiguousarray(np.concatenate(matrices))  # (T_all, F) float32
        self.targets = np.concatenate(targets) if targets else None  # (T_all, L) float32
        self.row_timestamps = pd.to_datetime(np.concatenate(stamps), utc=True)  # (T_all,)
        self.row_symbols = np.repeat(
            np.arange(len(self.symbols)), [len(m) for m in matrices]
        )  # (T_all,) index into self.symbols
        self.ends = np.concatenate(ends).astype(np.int64)  # (n,) valid end rows, ascending

    def _aligned_labels(
        self, symbol: str, frame: pd.DataFrame, labels: Mapping[str, pd.DataFrame]
    ) -> np.ndarray:
        if symbol not in labels:
            raise TradecastError(f"no labels for symbol {symbol}")
        table = labels[symbol]
        if len(table) != len(frame) or not np.array_equal(
            table["timestamp"].to_numpy(), frame["timestamp"].to_numpy()
        ):
            raise TradecastError(f"{symbol}: labels are not aligned row for row with features")
        return table[self.label_columns].to_numpy(dtype=np.float32)

    @property
    def view(self) -> np.ndarray:
        """Every run of ``window`` rows, valid or not: ``(T_all - window + 1, window, F)``."""
        if len(self.matrix) < self.window:  # too short for a single window
            return np.empty((0, self.window, len(self.names)), dtype=self.matrix.dtype)
        return sliding_window_view(self.matrix, (self.window, len(self.names)))[:, 0]

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, sample: int) -> np.ndarray:
        """One window ``(window, F)``, a view into the shared matrix."""
        return self.view[self.ends[sample] - self.window + 1]

    def batch(self, samples: np.ndarray | Sequence[int]) -> np.ndarray:
        """The windows of ``samples`` gathered into a new ``(B, window, F)`` array."""
        return self.view[self.ends[np.asarray(samples)] - self.window + 1]

    def batch_labels(self, samples: np.ndarray | Sequence[int]) -> np.ndarray:
        """The labels at the windows' end rows, ``(B, L)`` float32."""
        if self.targets is None:
            raise TradecastError("these windows were built without labels")
        return self.targets[self.ends[np.asarray(samples)]]

    @property
    def end_timestamps(self) -> pd.DatetimeIndex:
        """The time of each sample (its last bar), for walk-forward splits."""
        return self.row_timestamps[self.ends]

    @property
    def end_symbols(self) -> np.ndarray:
        """The symbol of each sample."""
        return np.asarray(self.symbols, dtype=object)[self.row_symbols[self.ends]]


def _valid_ends(
    finite_rows: np.ndarray, gaps: np.ndarray, labelled: np.ndarray, window: int
) -> np.ndarray:
    """Rows t of one symbol whose window t-window+1..t is finite and gap-free, and t labelled."""
    if len(finite_rows) < window:
        return np.empty(0, dtype=np.int64)
    # Count bad rows and gaps in each window with running sums (differences of cumulative sums).
    bad_rows = np.concatenate([[0], np.cumsum(~finite_rows)])
    gap_count = np.concatenate([[0], np.cumsum(gaps)])
    end = np.arange(window - 1, len(finite_rows))
    start = end - window + 1
    no_bad = bad_rows[end + 1] - bad_rows[start] == 0
    # A gap before the window's first row is outside the window; those after it are inside.
    no_gap = gap_count[end + 1] - gap_count[start + 1] == 0
    return end[no_bad & no_gap & labelled[end]]
