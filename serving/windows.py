"""A model's input windows from the streaming engine's feature rows: its own columns picked
(variants may use different feature subsets), context gaps filled, warm-up refused."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from contract.errors import ArtifactError
from features.engine import FEATURE_SPECS, MAX_WARMUP, feature_names
from features.windows import WINDOW
from serving.errors import InputError

ENGINE_COLUMNS = feature_names()  # the streaming engine's row layout
ENGINE_INDEX = pd.Index(ENGINE_COLUMNS)
MIN_BARS = WINDOW + MAX_WARMUP  # bars a prediction from raw bars needs


def engine_rows(rows: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Feature rows as one float64 array in the engine's column order."""
    if not isinstance(rows, pd.DataFrame):
        return rows
    if rows.columns[1:].equals(ENGINE_INDEX):  # compute_features' layout: a slice, no lookups
        return rows.iloc[:, 1:].to_numpy(dtype=np.float64)
    return rows[ENGINE_COLUMNS].to_numpy(dtype=np.float64)


@functools.cache
def column_picker(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Where a model's ``names`` sit among the engine's columns, and their fill values (NaN:
    none). `model_matrix`'s rule on plain arrays: it costs one pandas lookup per column, which
    is most of a live request's time; a test checks that both agree."""
    unknown = [name for name in names if name not in ENGINE_COLUMNS]
    if unknown:
        raise ArtifactError(f"model features the engine does not compute: {', '.join(unknown)}")
    index = np.array([ENGINE_COLUMNS.index(name) for name in names])
    fills = [FEATURE_SPECS[name].fill_missing for name in names]
    return index, np.array([np.nan if f is None else f for f in fills], dtype=np.float32)


def pick_columns(rows: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(T, F) float32: the model's columns of engine rows, context NaN replaced by its fill."""
    index, fills = column_picker(tuple(names))
    matrix = rows[:, index].astype(np.float32)
    return np.where(np.isnan(matrix) & ~np.isnan(fills), fills, matrix)


def feature_windows(
    rows: np.ndarray, names: Sequence[str], ends: np.ndarray, field: str = "bars"
) -> np.ndarray:
    """(len(ends), WINDOW, F) float32 windows of the model's columns, refusing warm-up NaN."""
    if len(rows) < WINDOW or ends.min() < WINDOW - 1:
        raise InputError(field, f"a window needs {WINDOW} rows; send at least {MIN_BARS} bars")
    first = int(ends.min()) - WINDOW + 1  # only the rows some window uses are picked
    matrix = pick_columns(rows[first : int(ends.max()) + 1], names)
    starts = ends - WINDOW + 1 - first
    if len(starts) == 1:  # one window (a predict): a slice costs a fraction of the view's setup
        windows = matrix[int(starts[0]) : int(starts[0]) + WINDOW][None]
    else:
        windows = sliding_window_view(matrix, WINDOW, axis=0)[starts].transpose(0, 2, 1)
    warm = np.isnan(windows).any(axis=(0, 1))
    if warm.any():
        cold = [name for name, bad in zip(names, warm, strict=True) if bad]
        raise InputError(
            field, f"not enough history: features {cold[:3]} are still warming up in the "
            f"last {WINDOW} bars; send at least {MIN_BARS} bars"
        )
    return windows
