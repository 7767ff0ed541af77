"""Skill of out-of-sample forecasts, in numpy: direction hits, calibration curves, leak alarms.

Shared by training's fold metrics and the walk-forward report (which the backtest writes), so
both score the same way. Direction is scored as up versus down: a prediction says "up" when its
up probability is at least its down probability, and a bar whose realised return is exactly
zero is left out. On daily stocks a 1-bar accuracy above `LEAK_ACCURACY` or a rank IC above
`LEAK_IC` is almost surely a look-ahead bug, not skill: `leak_warnings` says so.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

LEAK_ACCURACY = 0.6  # 1-bar accuracy above this on daily stocks means a look-ahead bug
LEAK_IC = 0.2  # 1-bar rank IC above this on daily stocks means a look-ahead bug
RELIABILITY_BINS = 10  # equal-width bins of predicted probability
DECILES = 10


def direction_scores(
    p_down: np.ndarray, p_up: np.ndarray, realised: np.ndarray
) -> tuple[float, float]:
    """(accuracy, balanced accuracy) of up/down calls against the sign of realised returns."""
    moved = np.isfinite(realised) & (realised != 0)
    if not moved.any():
        return math.nan, math.nan
    called_up = p_up[moved] >= p_down[moved]
    went_up = realised[moved] > 0
    accuracy = float(np.mean(called_up == went_up))
    hits = called_up == went_up
    recalls = [hits[went_up == side].mean() for side in (True, False) if (went_up == side).any()]
    return accuracy, float(np.mean(recalls))


def leak_warnings(metrics: dict[str, float], horizon: int = 1) -> list[str]:
    """Messages for metrics that daily stock returns cannot honestly reach (a look-ahead bug)."""
    warnings = []
    accuracy = metrics.get(f"accuracy_{horizon}", math.nan)
    ic = metrics.get(f"ic_{horizon}", math.nan)
    if accuracy > LEAK_ACCURACY:
        warnings.append(f"{horizon}-bar accuracy {accuracy:.3f} > {LEAK_ACCURACY}: suspect a leak")
    if ic > LEAK_IC:
        warnings.append(f"{horizon}-bar rank IC {ic:.3f} > {LEAK_IC}: suspect a leak")
    return warnings


def reliability_curve(
    probability: np.ndarray, happened: np.ndarray, bins: int = RELIABILITY_BINS
) -> pd.DataFrame:
    """Per bin of predicted probability: its mean, the observed frequency, and the row count.

    `happened` is 1 where the event (an up move, say) occurred, 0 where not, NaN where unknown.
    A calibrated forecaster lies on the diagonal; empty bins are left out.
    """
    known = np.isfinite(probability) & np.isfinite(happened)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probability[known], edges[1:-1]), 0, bins - 1)
    frame = pd.DataFrame({"bin": which, "predicted": probability[known],
                          "observed": happened[known]})
    table = frame.groupby("bin").agg(predicted=("predicted", "mean"),
                                     observed=("observed", "mean"), rows=("observed", "size"))
    return table.reset_index(drop=True)


def decile_table(
    predicted: np.ndarray, realised: np.ndarray, deciles: int = DECILES
) -> pd.DataFrame:
    """Rows sorted into deciles of the prediction: mean predicted and mean realised per decile.

    A forecast worth its numbers rises with the decile and lies near the diagonal. Fewer groups
    when the prediction takes fewer distinct values (a constant gives one).
    """
    known = np.isfinite(predicted) & np.isfinite(realised)
    ranks = pd.Series(predicted[known]).rank(method="first").to_numpy()
    groups = min(deciles, len(np.unique(predicted[known])))
    if groups == 0:
        return pd.DataFrame(columns=["decile", "predicted", "realised", "rows"])
    decile = np.minimum(((ranks - 1) * groups / len(ranks)).astype(int), groups - 1)
    frame = pd.DataFrame({"decile": decile + 1, "predicted": predicted[known],
                          "realised": realised[known]})
    table = frame.groupby("decile").agg(predicted=("predicted", "mean"),
                                        realised=("realised", "mean"), rows=("realised", "size"))
    return table.reset_index()
