"""The numbers of the walk-forward report: skill, calibration and significance per model.

Everything is computed from the out-of-sample predictions (every fold pooled) joined with the
realised labels, which come from the bars themselves (`features.labels.make_labels`), so a
predictions file is scored the same whichever run wrote it. Significance is a block bootstrap
(`features.bootstrap`): the rank IC of each horizon, and each backtest's net Sharpe ratio
against buy-and-hold's on the same bars.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.walk_forward import prediction_horizons
from contract.walk_forward import BASELINES
from features.bootstrap import Interval, rank_ic_interval, sharpe_difference
from features.calibration import brier_score
from features.labels import make_labels
from features.skill import decile_table, direction_scores, leak_warnings, reliability_curve

NO_EDGE = "indistinguishable from the baseline"
IC_NO_EDGE = "indistinguishable from zero"


def ic_block(horizon: int) -> int:
    """Mean bootstrap block for h-bar labels: overlapping labels stay within one block."""
    return max(2 * horizon, 10)


@dataclass
class ModelSkill:
    name: str  # a variant or a baseline
    metrics: dict[str, float]  # accuracy_h, balanced_accuracy_h, brier_h, ic_h
    ic: dict[int, Interval]  # horizon -> rank IC with its interval
    reliability: dict[int, pd.DataFrame]  # horizon -> P(up) reliability curve
    return_deciles: dict[int, pd.DataFrame]  # horizon -> predicted vs realised return
    volatility_deciles: dict[int, pd.DataFrame]  # horizon -> predicted vs realised volatility
    raw_brier: dict[int, float] = field(default_factory=dict)  # before calibration (variants)
    warnings: list[str] = field(default_factory=list)  # leak alarms


def realised_labels(bars: Mapping[str, pd.DataFrame], horizons: tuple[int, ...]) -> pd.DataFrame:
    """(symbol, timestamp) -> ret_h, dir_h, vol_h for every bar of every symbol."""
    frames = [make_labels(frame, horizons).assign(symbol=symbol) for symbol, frame in bars.items()]
    labels = pd.concat(frames, ignore_index=True)
    labels["timestamp"] = pd.to_datetime(labels["timestamp"], utc=True)
    return labels


def with_labels(predictions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """`predictions` joined with `labels` on (symbol, timestamp); labels they held are replaced."""
    frame = predictions.drop(columns=[c for c in labels.columns
                                      if c in predictions.columns and c not in ("symbol",
                                                                                "timestamp")])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype(
        labels["timestamp"].dtype
    )
    return frame.merge(labels, on=["symbol", "timestamp"], how="left", validate="many_to_one")


def model_skill(rows: pd.DataFrame, name: str, horizons: tuple[int, ...]) -> ModelSkill:
    """Every out-of-sample measure of one model's labelled prediction rows."""
    metrics: dict[str, float] = {"rows": float(len(rows))}
    ic, reliability, return_deciles, volatility_deciles = {}, {}, {}, {}
    stamps = pd.DatetimeIndex(rows["timestamp"]).asi8
    # One IC per symbol and fold, as training scores folds: a baseline's constant guess differs
    # between folds, and pooled ranks would read that difference as skill.
    groups = (rows["symbol"].astype(str) + "/" + rows["fold"].astype(str)).to_numpy()
    for h in horizons:
        p_down, p_up = rows[f"p_down_{h}"].to_numpy(), rows[f"p_up_{h}"].to_numpy()
        realised = rows[f"ret_{h}"].to_numpy(np.float64)
        accuracy, balanced = direction_scores(p_down, p_up, realised)
        metrics[f"accuracy_{h}"], metrics[f"balanced_accuracy_{h}"] = accuracy, balanced
        metrics[f"brier_{h}"] = _brier(rows, h)
        predicted = rows[f"ret_pred_{h}"].to_numpy(np.float64)
        ic[h] = rank_ic_interval(predicted, realised, groups, stamps, block=ic_block(h))
        metrics[f"ic_{h}"] = ic[h].estimate
        moved = np.where(np.isfinite(realised) & (realised != 0), realised > 0, np.nan)
        reliability[h] = reliability_curve(p_up, moved)
        return_deciles[h] = decile_table(predicted, realised)
        volatility_deciles[h] = decile_table(
            rows[f"vol_pred_{h}"].to_numpy(np.float64), rows[f"vol_{h}"].to_numpy(np.float64)
        )
    return ModelSkill(name, metrics, ic, reliability, return_deciles, volatility_deciles,
                      warnings=leak_warnings(metrics))


def _brier(rows: pd.DataFrame, h: int) -> float:
    probabilities = rows[[f"p_down_{h}", f"p_flat_{h}", f"p_up_{h}"]].to_numpy(np.float64)
    classes = rows[f"dir_{h}"].to_numpy()
    classes = np.where(np.isfinite(classes), classes, -1).astype(np.int64)
    return brier_score(probabilities, classes)


def all_skill(
    predictions: pd.DataFrame, bars: Mapping[str, pd.DataFrame], raw: pd.DataFrame | None = None
) -> dict[str, ModelSkill]:
    """`ModelSkill` per model, variants first; `raw` (uncalibrated variant rows) adds raw Brier."""
    horizons = prediction_horizons(predictions)
    labels = realised_labels(bars, horizons)
    labelled = with_labels(predictions, labels)
    names = sorted(set(labelled["model"]), key=lambda name: (name in BASELINES, name))
    skills = {name: model_skill(labelled[labelled["model"] == name], name, horizons)
              for name in names}
    if raw is not None and not raw.empty:
        raw_labelled = with_labels(raw, labels)
        for name, rows in raw_labelled.groupby("model"):
            if name in skills:
                skills[name].raw_brier = {h: _brier(rows, h) for h in horizons}
    return skills


@dataclass(frozen=True)
class SharpeEdge:
    run: str  # a model's backtest (or buy-and-hold itself)
    sharpe: float  # its net annualised Sharpe ratio
    difference: Interval  # its Sharpe minus buy-and-hold's, with the bootstrap interval

    @property
    def verdict(self) -> str:
        if self.difference.covers_zero:
            return NO_EDGE
        return "beats the baseline" if self.difference.low > 0 else "worse than the baseline"


def sharpe_edges(
    returns: Mapping[str, pd.Series], periods: float, benchmark: str
) -> dict[str, SharpeEdge]:
    """Each run's net Sharpe against `benchmark`'s on the bars both traded."""
    reference = returns[benchmark]
    edges = {}
    for name, series in returns.items():
        if name == benchmark:
            continue
        joined = pd.concat([series, reference], axis=1, join="inner").dropna()
        difference = sharpe_difference(
            joined.iloc[:, 0].to_numpy(), joined.iloc[:, 1].to_numpy(), periods
        )
        spread = joined.iloc[:, 0].std(ddof=1)
        sharpe = joined.iloc[:, 0].mean() / spread * math.sqrt(periods) if spread > 0 else math.nan
        edges[name] = SharpeEdge(name, float(sharpe), difference)
    return edges
