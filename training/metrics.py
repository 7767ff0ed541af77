"""Out-of-sample metrics: direction accuracy, rank IC, return and volatility errors.

Direction is scored as up versus down: a prediction says "up" when its up probability is at
least its down probability, and a bar whose realised return is exactly zero is left out. Balanced
accuracy averages the hit rates on up and down bars, so always guessing "up" scores 0.5 however
often prices rose. The rank IC is the Spearman correlation between predicted and realised
returns. On daily stocks an accuracy above 0.6 or an IC above 0.2 at one bar is almost surely a
leak; `features.skill.leak_warnings` flags it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from features.calibration import brier_score
from features.skill import direction_scores, leak_warnings  # noqa: F401 (leak_warnings: callers)


@dataclass(frozen=True)
class Predictions:
    probabilities: np.ndarray  # (n, H, 3) down / flat / up probabilities
    returns: np.ndarray  # (n, H) predicted forward returns
    volatility: np.ndarray  # (n, H) predicted forward volatility


def rank_ic(
    predicted: np.ndarray, realised: np.ndarray, groups: np.ndarray | None = None
) -> tuple[float, float]:
    """(Spearman IC, its t-statistic) over rows where both are known; NaN for a constant guess.

    With `groups` (the symbol of each row) the IC is the row-weighted mean of each symbol's own
    time-series IC: pooled ranks would otherwise reward a model for telling symbols apart (a
    price-level input does that) rather than for timing any of them. The t-statistic treats
    rows as independent, which overstates it for overlapping multi-bar returns; the fold-level
    t in `summarise_folds` does not have that problem.
    """
    known = np.isfinite(predicted) & np.isfinite(realised)
    groups = np.zeros(len(predicted)) if groups is None else np.asarray(groups)
    ics, weights = [], []
    for group in np.unique(groups[known]):
        rows = known & (groups == group)
        if rows.sum() >= 3 and np.ptp(predicted[rows]) > 0 and np.ptp(realised[rows]) > 0:
            ics.append(spearmanr(predicted[rows], realised[rows]).statistic)
            weights.append(rows.sum())
    if not ics:
        return math.nan, math.nan
    ic, n = float(np.average(ics, weights=weights)), int(np.sum(weights))
    if abs(ic) >= 1.0:
        return ic, math.copysign(math.inf, ic)
    return ic, ic * math.sqrt((n - 2) / (1.0 - ic * ic))


def mean_abs_error(predicted: np.ndarray, realised: np.ndarray) -> float:
    """Mean absolute error over rows where the realised value is known."""
    known = np.isfinite(realised)
    return float(np.mean(np.abs(predicted[known] - realised[known]))) if known.any() else math.nan


def evaluate(
    predictions: Predictions,
    realised_returns: np.ndarray,  # (n, H)
    realised_volatility: np.ndarray,  # (n, H)
    horizons: tuple[int, ...],
    symbols: np.ndarray | None = None,  # (n,) symbol of each row, for per-symbol ICs
    *,
    direction: np.ndarray | None = None,  # (n, H) realised classes (negative: unknown)
) -> dict[str, float]:
    """Every metric for every horizon, keyed `<metric>_<horizon>` (e.g. `ic_1`).

    With the realised `direction` classes, the three-class Brier score `brier_<h>` too.
    """
    metrics: dict[str, float] = {"rows": float(len(realised_returns))}
    for column, horizon in enumerate(horizons):
        realised = realised_returns[:, column]
        probabilities = predictions.probabilities[:, column]
        accuracy, balanced = direction_scores(probabilities[:, 0], probabilities[:, 2], realised)
        ic, ic_t = rank_ic(predictions.returns[:, column], realised, symbols)
        metrics[f"accuracy_{horizon}"] = accuracy
        metrics[f"balanced_accuracy_{horizon}"] = balanced
        metrics[f"ic_{horizon}"] = ic
        metrics[f"ic_t_{horizon}"] = ic_t
        metrics[f"return_mae_{horizon}"] = mean_abs_error(predictions.returns[:, column], realised)
        metrics[f"volatility_mae_{horizon}"] = mean_abs_error(
            predictions.volatility[:, column], realised_volatility[:, column]
        )
        if direction is not None:
            metrics[f"brier_{horizon}"] = brier_score(probabilities, direction[:, column])
    return metrics


def summarise_folds(
    fold_metrics: list[dict[str, float]], horizons: tuple[int, ...]
) -> dict[str, float]:
    """Overall metrics: row-weighted means over folds; ICs as the mean fold IC and its t-stat.

    Fold records read back from JSON hold None where a metric was undefined (NaN).
    """
    if not fold_metrics:
        return {}

    def column(key: str) -> np.ndarray:
        return np.array([math.nan if m.get(key) is None else m[key] for m in fold_metrics],
                        dtype=np.float64)

    rows = column("rows")
    overall: dict[str, float] = {"rows": float(rows.sum()), "folds": float(len(fold_metrics))}
    for key in fold_metrics[0]:
        if key == "rows" or key.startswith("ic"):
            continue
        values = column(key)
        known = np.isfinite(values)
        overall[key] = (
            float(np.average(values[known], weights=rows[known])) if known.any() else math.nan
        )
    for horizon in horizons:
        ics = column(f"ic_{horizon}")
        ics = ics[np.isfinite(ics)]
        overall[f"ic_{horizon}"] = float(ics.mean()) if len(ics) else math.nan
        spread = ics.std(ddof=1) if len(ics) > 1 else 0.0
        overall[f"ic_t_{horizon}"] = (
            float(ics.mean() / spread * math.sqrt(len(ics))) if spread > 0 else math.nan
        )
    return overall
