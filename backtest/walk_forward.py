"""Walk-forward backtests: out-of-sample predictions -> signal rule -> one comparison table.

Training's walk-forward writes ``oos_predictions.parquet`` (docs/interfaces.md, "Walk-forward
predictions"): per ``timestamp``, ``symbol``, ``fold`` and ``model`` (a variant or a baseline),
and per horizon h, ``p_down_h``, ``p_flat_h``, ``p_up_h``, ``ret_pred_h`` and ``vol_pred_h``.
Every model's predictions go through the same signal rule, simulator and costs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.runner import Comparison, compare_runs
from backtest.simulator import BacktestConfig
from contract.errors import ArtifactError
from contract.model import COMBINED
from contract.runs import PREDICTIONS_FILE, run_folders
from contract.walk_forward import BASELINES as BASELINE_MODELS
from contract.walk_forward import (
    FOLD_METRICS,
    FOLD_PREDICTIONS,
    FOLD_PREFIX,
    KEY_COLUMNS,
    PER_HORIZON,
)
from policy.signal_rule import SignalRuleConfig, combine_horizons, positions_from_predictions


def read_predictions(path: Path) -> pd.DataFrame:
    """Read and check a walk-forward predictions file; errors name the file, row and column."""
    if not path.exists():
        raise ArtifactError(f"{path}: no walk-forward predictions (run the training walk-forward)")
    frame = pd.read_parquet(path)
    horizons = prediction_horizons(frame)
    needed = [*KEY_COLUMNS, *(f"{kind}_{h}" for h in horizons for kind in PER_HORIZON)]
    missing = [name for name in needed if name not in frame.columns]
    if missing or not horizons:
        raise ArtifactError(f"{path}: missing column(s) {missing or ['p_up_<h>']}")
    for name in needed:
        empty = frame[name].isna().to_numpy()
        if empty.any():
            row = int(empty.argmax())
            raise ArtifactError(f"{path}, row {row} ({frame.at[row, 'model']} "
                                f"{frame.at[row, 'symbol']} {frame.at[row, 'timestamp']}): "
                                f"{name} is missing (NaN)")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def find_walk_forward_runs(checkpoints_dir: Path) -> dict[str, Path]:
    """The newest run folder holding walk-forward predictions, per variant.

    Training writes a run to ``checkpoints/<variant>/<run-id>/``; run ids start with the UTC
    start time, so the greatest name is the newest.
    """
    runs = {}
    for run in run_folders(checkpoints_dir, holding=(PREDICTIONS_FILE,)):  # oldest first
        runs[run.parent.name] = run
    return runs


def load_walk_forward(checkpoints_dir: Path, variant: str) -> pd.DataFrame:
    """Every variant's newest walk-forward predictions, with the baselines of ``variant``'s run.

    ``variant`` may be ``combined``: the mean of every variant found (see `with_combined`).
    """
    runs = find_walk_forward_runs(checkpoints_dir)
    if variant not in runs and not (variant == COMBINED and runs):
        found = ", ".join(f"{name} ({path.name})" for name, path in runs.items()) or "none"
        raise ArtifactError(
            f"no walk-forward run for {variant!r} under {checkpoints_dir / variant} "
            f"(runs found: {found}); run `tradecast train --variant {variant} --walk-forward` "
            "first or pass --predictions FILE"
        )
    baselines_from = runs.get(variant) or next(iter(runs.values()))
    frames = []
    for name, run_dir in runs.items():
        frame = read_predictions(run_dir / PREDICTIONS_FILE)
        keep = frame["model"] == name
        if run_dir == baselines_from:
            keep |= frame["model"].isin(BASELINE_MODELS)
        frames.append(frame[keep])
    return pd.concat(frames, ignore_index=True)


def raw_variant_predictions(run_dirs: dict[str, Path]) -> pd.DataFrame:
    """Each variant's uncalibrated fold predictions (its run's fold files), for the report.

    Empty for runs written before the fold files held them.
    """
    frames = []
    for variant, run_dir in run_dirs.items():
        for path in sorted(run_dir.glob(f"{FOLD_PREFIX}*/{FOLD_PREDICTIONS}")):
            frame = pd.read_parquet(path)
            frames.append(frame[frame["model"] == variant])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def fold_calibrations(run_dir: Path) -> list[dict]:
    """Each fold's calibration as its record holds it (null before there was one)."""
    records = [json.loads(path.read_text())
               for path in sorted(run_dir.glob(f"{FOLD_PREFIX}*/{FOLD_METRICS}"))]
    return [{"validation_year": r["validation_year"], "calibration": r.get("calibration")}
            for r in records]


def prediction_horizons(frame: pd.DataFrame) -> tuple[int, ...]:
    """The horizons a predictions frame covers, from its ``p_up_<h>`` columns."""
    found = (re.fullmatch(r"p_up_(\d+)", str(name)) for name in frame.columns)
    return tuple(sorted(int(match.group(1)) for match in found if match))


def with_combined(predictions: pd.DataFrame) -> pd.DataFrame:
    """Add a ``combined`` model: the equal-weight mean of the variants' predictions.

    Serving's ``combined`` mixes the loaded variants too (weighted by validation metrics); the
    ``ensemble`` variant is one model of its own and takes part like any other.
    """
    if COMBINED in set(predictions["model"]):
        return predictions
    variants = predictions[~predictions["model"].isin(BASELINE_MODELS)]
    if variants.empty:
        return predictions
    value_columns = [c for c in predictions.columns if c.startswith(PER_HORIZON)]
    mean = variants.groupby(["timestamp", "symbol"], as_index=False).agg(
        {"fold": "max", **dict.fromkeys(value_columns, "mean")}
    )
    return pd.concat([predictions, mean.assign(model=COMBINED)], ignore_index=True)


def signals_from_predictions(
    predictions: pd.DataFrame, rule: SignalRuleConfig
) -> dict[str, pd.DataFrame]:
    """Target positions per model: a signal frame (timestamp, symbol, position, fold) each."""
    horizons = prediction_horizons(predictions)
    signals: dict[str, list[pd.DataFrame]] = {}
    ordered = predictions.sort_values(["model", "symbol", "timestamp"], kind="stable")
    for (model, symbol), rows in ordered.groupby(["model", "symbol"], sort=False):
        probabilities = np.stack(
            [rows[[f"p_down_{h}", f"p_flat_{h}", f"p_up_{h}"]].to_numpy() for h in horizons], axis=1
        )  # (T, H, 3)
        returns = rows[[f"ret_pred_{h}" for h in horizons]].to_numpy()
        volatility = rows[[f"vol_pred_{h}" for h in horizons]].to_numpy()
        per_bar = combine_horizons(probabilities, returns, volatility, horizons, rule)
        positions = positions_from_predictions(*per_bar, config=rule)
        signals.setdefault(str(model), []).append(pd.DataFrame({
            "timestamp": rows["timestamp"].to_numpy(), "symbol": symbol,
            "position": positions, "fold": rows["fold"].to_numpy(),
        }))
    return {
        model: pd.concat(frames).sort_values(["timestamp", "symbol"], ignore_index=True)
        for model, frames in signals.items()
    }


def run_walk_forward(
    predictions: pd.DataFrame,
    bars: dict[str, pd.DataFrame],
    out_dir: Path,
    variant: str,
    *,
    config: BacktestConfig | None = None,
    rule: SignalRuleConfig | None = None,
    progress: bool = False,
) -> Comparison:
    """Backtest every model in ``predictions`` (and buy-and-hold); ``variant`` gets the plots."""
    rule = rule or SignalRuleConfig()
    if variant == COMBINED:
        predictions = with_combined(predictions)
    signals = signals_from_predictions(predictions, rule)
    if variant not in signals:
        raise ArtifactError(f"no walk-forward predictions for {variant!r}; "
                            f"the predictions hold: {', '.join(sorted(signals))}")
    runs = {variant: signals.pop(variant), **signals}
    return compare_runs(runs, bars, out_dir, variant, config=config, progress=progress)
