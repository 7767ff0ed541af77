"""Refit a finished run's calibration from what its folds saved, without training again.

Each fold folder keeps the model's raw predictions on training windows (`calibration.parquet`)
and on its validation year (`predictions.parquet`), both with the realised labels. This refits
every fold's calibration on the first with the current `features.calibration`, rescores the
second, and rewrites what depends on them: each fold's `metrics.json`, `oos_predictions.parquet`
and `summary.json` (whose `calibration`, the last fold's, is what an export ships).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from contract.errors import ArtifactError
from contract.runs import SUMMARY_FILE
from contract.walk_forward import FOLD_CALIBRATION, FOLD_METRICS, FOLD_PREDICTIONS, FOLD_PREFIX
from features.calibration import apply_calibration
from training.metrics import Predictions, evaluate
from training.runs import fold_summary, json_safe, read_run_config, read_summary
from training.runs import write_predictions as write_run_predictions
from training.walk_forward import calibration_from_frame, frame_predictions, raw_name


def recalibrate_run(run_dir: Path) -> dict:
    """Refit and rewrite as above; returns the new summary."""
    variant, _, _ = read_run_config(run_dir)
    summary = read_summary(run_dir)
    horizons = tuple(summary["horizons"])
    fold_dirs = sorted(run_dir.glob(f"{FOLD_PREFIX}*"))
    missing = [d.name for d in fold_dirs if not (d / FOLD_CALIBRATION).exists()]
    if not fold_dirs or missing:
        raise ArtifactError(f"{run_dir}: no {FOLD_CALIBRATION} in {missing or 'any fold'} "
                            "(the run predates calibration)")
    frames, records = [], []
    for fold_dir in fold_dirs:
        record = json.loads((fold_dir / FOLD_METRICS).read_text())
        frame = pd.read_parquet(fold_dir / FOLD_PREDICTIONS)
        calibration = calibration_from_frame(pd.read_parquet(fold_dir / FOLD_CALIBRATION),
                                             horizons)
        rows = frame[frame["model"] == variant]
        raw = frame_predictions(rows, horizons)
        calibrated = Predictions(*apply_calibration(calibration, raw.probabilities, raw.returns,
                                                    raw.volatility))
        record["metrics"][variant] = _scores(calibrated, rows, horizons)
        record["metrics"][raw_name(variant)] = _scores(raw, rows, horizons)
        record["calibration"] = calibration.to_dict()
        (fold_dir / FOLD_METRICS).write_text(json.dumps(json_safe(record), indent=2) + "\n")
        frames.append(frame)
        records.append(record)
    write_run_predictions(run_dir, variant, frames, records, horizons)
    summary.update(fold_summary(variant, records, horizons))
    (run_dir / SUMMARY_FILE).write_text(json.dumps(json_safe(summary), indent=2) + "\n")
    return summary


def _scores(predictions: Predictions, rows: pd.DataFrame, horizons: tuple[int, ...]) -> dict:
    def labels(kind: str) -> np.ndarray:
        return rows[[f"{kind}_{h}" for h in horizons]].to_numpy()

    return evaluate(predictions, labels("ret").astype(np.float64),
                    labels("vol").astype(np.float64), horizons, rows["symbol"].to_numpy(),
                    direction=labels("dir").astype(np.int64))
