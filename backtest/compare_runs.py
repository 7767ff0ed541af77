"""Two walk-forward runs of one variant, compared on the same out-of-sample windows.

What decides whether a change to a model (its block layout, its size) may ship on skill
(`tradecast train compare REFERENCE CANDIDATE`). Per horizon, on the windows both runs
predicted:

- the direction log loss of each run, and their paired difference (candidate - reference)
  with a stationary-bootstrap interval over dates (blocks of about a month, every symbol's
  window of a picked date coming along);
- balanced accuracy of the up/down calls, and the rank IC of the return forecasts.

The candidate is **no worse** at a horizon when the log-loss difference's interval reaches
zero or below: the data cannot tell it is worse.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backtest.signals import load_bars
from backtest.skill import realised_labels, with_labels
from backtest.walk_forward import prediction_horizons, read_predictions
from contract.errors import ArtifactError
from contract.runs import PREDICTIONS_FILE
from contract.walk_forward import BASELINES, PER_HORIZON
from features.bootstrap import (
    LEVEL,
    SHARPE_BLOCK,
    percentile_interval,
    rank_ic_interval,
    stationary_indices,
)
from features.skill import direction_scores

RESAMPLES = 2000
KEY = ["timestamp", "symbol"]


def variant_rows(run_dir: Path) -> tuple[str, pd.DataFrame]:
    """The run's variant and its out-of-sample rows (baselines left out)."""
    frame = read_predictions(Path(run_dir) / PREDICTIONS_FILE)
    variants = sorted(set(frame["model"]) - set(BASELINES))
    if len(variants) != 1:
        raise ArtifactError(f"{run_dir}: expected one variant, found {variants or 'none'}")
    return variants[0], frame[frame["model"] == variants[0]]


def log_losses(frame: pd.DataFrame, horizon: int) -> np.ndarray:
    """Each window's direction log loss at ``horizon`` (labels 0 down, 1 flat, 2 up)."""
    probabilities = frame[[f"p_down_{horizon}", f"p_flat_{horizon}",
                           f"p_up_{horizon}"]].to_numpy()
    labels = frame[f"dir_{horizon}"].to_numpy().astype(int)
    picked = probabilities[np.arange(len(frame)), labels]
    return -np.log(np.clip(picked, 1e-12, 1.0))


def compare_runs(reference: Path, candidate: Path, bars_dir: Path, *, timeframe: str = "1d",
                 resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Per horizon: both runs' skill on their shared windows and the paired log-loss gap; the
    realised labels come from the bars in ``bars_dir``."""
    name, first = variant_rows(reference)
    other, second = variant_rows(candidate)
    if other != name:
        raise ArtifactError(f"{candidate} is a {other} run, {reference} a {name} run")
    horizons = prediction_horizons(first)
    bars = load_bars(sorted(first["symbol"].unique()), bars_dir=bars_dir, timeframe=timeframe)
    forecasts = [*KEY, *(f"{kind}_{h}" for h in horizons for kind in PER_HORIZON)]
    shared = first[forecasts].merge(second[forecasts], on=KEY, suffixes=("", "_candidate"))
    labelled = with_labels(shared, realised_labels(bars, horizons))
    joined = labelled.dropna(subset=[f"dir_{h}" for h in horizons]).sort_values(KEY)
    if joined.empty:
        raise ArtifactError(f"{reference} and {candidate} share no labelled out-of-sample window")
    labels = [f"{kind}_{h}" for h in horizons for kind in ("ret", "dir", "vol")]
    suffixed = [c for c in joined.columns if c.endswith("_candidate")]
    candidate_rows = joined[KEY + labels + suffixed].rename(
        columns=lambda c: c.removesuffix("_candidate"))
    reference_rows = joined.drop(columns=suffixed)
    dates, date_of_row = np.unique(joined["timestamp"].to_numpy(), return_inverse=True)
    picks = stationary_indices(len(dates), block=SHARPE_BLOCK, resamples=resamples,
                               rng=np.random.default_rng(seed))
    rows = []
    for horizon in horizons:
        gap = log_losses(candidate_rows, horizon) - log_losses(reference_rows, horizon)
        gap_sum = np.bincount(date_of_row, weights=gap, minlength=len(dates))
        rows_per_date = np.bincount(date_of_row, minlength=len(dates))
        resampled = gap_sum[picks].sum(axis=1) / rows_per_date[picks].sum(axis=1)
        interval = percentile_interval(float(gap.mean()), resampled)
        rows.append({
            "horizon": horizon,
            "log_loss": [float(log_losses(run, horizon).mean())
                         for run in (reference_rows, candidate_rows)],
            "log_loss_gap": [interval.estimate, interval.low, interval.high],
            "balanced_accuracy": [direction_scores(run[f"p_down_{horizon}"].to_numpy(),
                                                   run[f"p_up_{horizon}"].to_numpy(),
                                                   run[f"ret_{horizon}"].to_numpy())[1]
                                  for run in (reference_rows, candidate_rows)],
            "rank_ic": [rank_ic_interval(
                run[f"ret_pred_{horizon}"].to_numpy(), run[f"ret_{horizon}"].to_numpy(),
                run["symbol"].to_numpy(), run["timestamp"].to_numpy(), block=SHARPE_BLOCK,
                resamples=200, seed=seed).estimate for run in (reference_rows, candidate_rows)],
            "no_worse": bool(interval.low <= 0.0),
        })
    return {"variant": name, "reference": str(reference), "candidate": str(candidate),
            "windows": len(joined), "level": LEVEL, "horizons": rows,
            "no_worse": all(row["no_worse"] for row in rows)}


def comparison_table(result: dict) -> str:
    """The comparison as a Markdown table, one row per horizon."""
    lines = [
        f"{result['variant']}: candidate {result['candidate']} against reference "
        f"{result['reference']}, {result['windows']} shared out-of-sample windows; interval "
        f"{result['level']:.0%}, dates resampled in blocks.",
        "",
        "| horizon | log loss ref / cand | cand - ref (interval) | balanced acc ref / cand | "
        "rank IC ref / cand | no worse |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in result["horizons"]:
        gap, low, high = row["log_loss_gap"]
        lines.append(
            f"| {row['horizon']} | {row['log_loss'][0]:.4f} / {row['log_loss'][1]:.4f} | "
            f"{gap:+.4f} ({low:+.4f} to {high:+.4f}) | {row['balanced_accuracy'][0]:.3f} / "
            f"{row['balanced_accuracy'][1]:.3f} | {row['rank_ic'][0]:+.3f} / "
            f"{row['rank_ic'][1]:+.3f} | {'yes' if row['no_worse'] else 'NO'} |")
    return "\n".join(lines) + "\n"
