"""Correlation feature selection, fitted on the training rows only.

Many indicators say almost the same thing (an SMA, an EMA and a Bollinger middle band of the
same length move together). The filter walks the candidate names **in the order given** (the
engine's catalogue order) and keeps a feature unless its absolute Pearson correlation with a
feature already kept exceeds ``threshold``. So when two features are too alike, the one that
comes first wins; the result is deterministic and keeps the given order.

Correlations use only the rows in ``train_mask``, pairwise over the rows where both columns are
finite. Before that, a feature is dropped when it cannot be judged on the training rows: fewer
than ``min_rows`` finite values or no variation at all (for example VIX context before the VIX
data starts, or a volume feature on a series without volume). A pair with fewer than
``min_rows`` common finite rows counts as uncorrelated.

The result is a list of names, saved with the model as JSON; serving never re-fits it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from contract.errors import ArtifactError, TradecastError

DEFAULT_THRESHOLD = 0.8  # |correlation| above which the later of two features is dropped
MIN_ROWS = 30  # finite training rows a feature (and a pair) needs to be judged


def select_features(
    frame: pd.DataFrame,
    names: Sequence[str],
    train_mask: np.ndarray | pd.Series,
    threshold: float = DEFAULT_THRESHOLD,
    min_rows: int = MIN_ROWS,
) -> list[str]:
    """The names to keep, in the order of ``names``, judged on the rows where ``train_mask``."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise TradecastError(f"feature selection: columns not in the frame: {', '.join(missing)}")
    train_mask = np.asarray(train_mask, dtype=bool)
    if train_mask.shape != (len(frame),):
        raise ValueError(f"train_mask has shape {train_mask.shape}, the frame {len(frame)} rows")

    train = frame.loc[train_mask, list(names)].astype("float64")
    train = train.where(np.isfinite(train))  # inf counts as missing, like NaN
    usable = [
        name for name in names if train[name].count() >= min_rows and train[name].std() > 0
    ]
    correlation = train[usable].corr(min_periods=min_rows).abs().fillna(0.0)

    kept: list[str] = []
    for name in usable:
        if all(correlation.at[name, other] <= threshold for other in kept):
            kept.append(name)
    return kept


def save_selection(path: str | Path, names: Sequence[str], threshold: float) -> Path:
    """Write the selected names (and the threshold that chose them) as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"features": list(names), "threshold": threshold}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def load_selection(path: str | Path) -> list[str]:
    """Read names written by :func:`save_selection`, refusing a damaged file."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no feature selection file") from None
    except json.JSONDecodeError as error:
        raise ArtifactError(f"{path}: not valid JSON ({error})") from None
    names = document.get("features") if isinstance(document, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ArtifactError(f"{path}: 'features' must be a non-empty list of names")
    if len(set(names)) != len(names):
        raise ArtifactError(f"{path}: 'features' names a feature twice")
    return names
