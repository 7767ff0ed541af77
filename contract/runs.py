"""The training run folder, ``checkpoints/<variant>/<run-id>/``, and finding runs in it.

Training writes these files; the CLI, the backtest and the dashboard read them. Run ids start
with the UTC start time (``YYYYMMDD-HHMMSS``), so sorting names sorts runs oldest first.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_FILE = "model.safetensors"  # the final model's weights (normaliser included)
CONFIG_FILE = "config.json"  # variant, model config, n_features, position_dim
FEATURES_FILE = "features.json"  # the model's input names, in order
RUN_CONFIG_FILE = "run_config.json"  # variant, mode and the full TrainConfig (resume reads it)
SUMMARY_FILE = "summary.json"  # spans, validation metrics, baselines, fold table; written last
METRICS_LOG = "metrics.jsonl"  # one line per epoch (and fold)
PREDICTIONS_FILE = "oos_predictions.parquet"  # walk-forward out-of-sample predictions


def run_folders(checkpoints_dir: Path, variant: str | None = None,
                holding: tuple[str, ...] = (CONFIG_FILE, METRICS_LOG)
                ) -> list[Path]:
    """Run folders (of ``variant``, else of every variant) holding any of ``holding``.

    Oldest first within a variant; variants in name order. A missing folder has no runs.
    """
    root = Path(checkpoints_dir)
    variants = [root / variant] if variant else sorted(p for p in root.glob("*") if p.is_dir())
    return [run for folder in variants if folder.is_dir()
            for run in sorted(p for p in folder.iterdir() if p.is_dir())
            if any((run / name).exists() for name in holding)]


def latest_run(checkpoints_dir: Path, variant: str, holding: str) -> Path | None:
    """The newest run folder of ``variant`` that holds the file ``holding``, else None."""
    found = run_folders(checkpoints_dir, variant, (holding,))
    return found[-1] if found else None
