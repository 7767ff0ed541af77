"""Training runs: the `checkpoints/<variant>/<run-id>/` folder and what goes into it.

run_config.json          variant, mode and the full TrainConfig (a resume reads it back)
model.safetensors, config.json, features.json   the final model (training.checkpoint)
metrics.jsonl            one line per epoch (and fold)
summary.json             spans, validation metrics, baselines, fold table, fit details, and
                         the exported model's calibration (`calibration`, the last fold's)
loss_curves.png, folds.png
oos_predictions.parquet  out-of-sample predictions of every fold, model and baseline (the
                         model's calibrated, as serving would answer)
fold_<year>/             per fold: predictions.parquet (raw, with the realised labels),
                         calibration.parquet (the model on training windows, labelled),
                         metrics.json (with the fold's calibration), the trainer state
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from contract.errors import ArtifactError
from contract.home import Home
from contract.runs import (
    METRICS_LOG,
    PREDICTIONS_FILE,
    RUN_CONFIG_FILE,
    SUMMARY_FILE,
    run_folders,
)
from contract.walk_forward import FOLD_CALIBRATION, FOLD_METRICS, FOLD_PREDICTIONS, FOLD_PREFIX
from features.calibration import Calibration
from features.splits import Fold
from marketdata.store import BarStore
from training.checkpoint import save_checkpoint
from training.config import (
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_profile,
)
from training.dataset import MarketData, load_market
from training.loop import STATE_FILE
from training.metrics import leak_warnings, summarise_folds
from training.models import VARIANTS
from training.plots import plot_fold_summary, plot_loss_curves
from training.walk_forward import (
    FoldOutcome,
    StartingPoint,
    calibrated_rows,
    make_folds,
    raw_name,
    run_fold,
    stitch,
)


def new_run_dir(home: Home, variant: str, suffix: str = "") -> Path:
    """A fresh `checkpoints/<variant>/<run-id>/`; the id is the UTC start time plus `suffix`."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + suffix
    base = home.checkpoints_dir / variant
    run_dir, count = base / stamp, 1
    while run_dir.exists():
        count += 1
        run_dir = base / f"{stamp}-{count}"
    run_dir.mkdir(parents=True)
    return run_dir


def find_run(home: Home, run: str) -> Path:
    """A run folder from a path, `<variant>/<run-id>` or a bare run id."""
    for candidate in (Path(run), home.checkpoints_dir / run):
        if (candidate / RUN_CONFIG_FILE).exists():
            return candidate
    matches = [found for found in run_folders(home.checkpoints_dir, holding=(RUN_CONFIG_FILE,))
               if found.name == run]
    if len(matches) == 1:
        return matches[0]
    raise ArtifactError(f"no training run {run!r} under {home.checkpoints_dir}")


def read_run_config(run_dir: Path) -> tuple[str, bool, TrainConfig]:
    """(variant, walk_forward, config) of a run."""
    saved = json.loads((run_dir / RUN_CONFIG_FILE).read_text())
    config = config_from_dict(saved["config"], origin=str(run_dir / RUN_CONFIG_FILE))
    return saved["variant"], saved["walk_forward"], config


def read_summary(run_dir: Path) -> dict:
    path = run_dir / SUMMARY_FILE
    if not path.exists():
        raise ArtifactError(f"{path}: missing (the run has not finished)")
    return json.loads(path.read_text())


def train_run(
    home: Home,
    variant: str,
    config: TrainConfig,
    *,
    walk_forward: bool = False,
    run_dir: Path | None = None,
    progress: bool = True,
    market: MarketData | None = None,
    start_from: StartingPoint | None = None,
    run_suffix: str = "",
    on_epoch: Callable[[dict], None] | None = None,
) -> Path:
    """Train `variant` (one model, or one per walk-forward fold); returns the run folder.

    Passing an existing `run_dir` resumes it: finished folds are kept, the current one continues
    from its trainer state. `market` skips loading the data (several variants share one);
    `start_from` continues from trained weights instead of a fresh model (fine-tuning);
    `on_epoch` sees every epoch's record (a Ray Tune trial reports them).
    """
    started = time.perf_counter()
    resume = run_dir is not None
    if run_dir is None:
        run_dir = start_run(home, variant, config, walk_forward, run_suffix)
    if market is None:
        market = load_market(BarStore(home.bars_dir), config.data, progress=progress)
    folds = make_folds(market, config, walk_forward)

    fold_frames, fold_metrics = [], []
    for index, fold in enumerate(folds):
        fold_dir = run_dir / f"{FOLD_PREFIX}{fold.validation_year}"
        if resume and (fold_dir / FOLD_METRICS).exists():
            fold_frames.append(pd.read_parquet(fold_dir / FOLD_PREDICTIONS))
            fold_metrics.append(json.loads((fold_dir / FOLD_METRICS).read_text()))
            continue
        predictions, record = train_fold(
            market, fold, variant, config, run_dir, last=index == len(folds) - 1,
            resume=resume, progress=progress, start_from=start_from, walk_forward=walk_forward,
            on_epoch=on_epoch,
        )
        fold_frames.append(predictions)
        fold_metrics.append(record)

    write_predictions(run_dir, variant, fold_frames, fold_metrics, market.horizons)
    summary = _summary(run_dir, variant, config, walk_forward, market, folds, fold_metrics)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    (run_dir / SUMMARY_FILE).write_text(json.dumps(json_safe(summary), indent=2) + "\n")
    _plot(run_dir, fold_metrics, market.horizons)
    return run_dir


def write_predictions(
    run_dir: Path,
    variant: str,
    fold_frames: list[pd.DataFrame],
    fold_records: list[dict],
    horizons: tuple[int, ...],
) -> None:
    """`oos_predictions.parquet`: every fold's rows, the model's through its fold's calibration."""
    calibrated = [
        calibrated_rows(frame, variant, fold_calibration(record, len(horizons)), horizons)
        for frame, record in zip(fold_frames, fold_records, strict=True)
    ]
    stitch(calibrated).to_parquet(run_dir / PREDICTIONS_FILE, index=False)


def fold_calibration(record: dict, horizons: int) -> Calibration:
    """The calibration a fold record holds (identity for a record written before there was one)."""
    saved = record.get("calibration")
    return Calibration.from_dict(saved) if saved else Calibration.identity(horizons)


def start_run(
    home: Home, variant: str, config: TrainConfig, walk_forward: bool, run_suffix: str = ""
) -> Path:
    """A new run folder holding its `run_config.json` (what a resume reads back)."""
    run_dir = new_run_dir(home, variant, ("-wf" if walk_forward else "") + run_suffix)
    document = {"variant": variant, "walk_forward": walk_forward,
                "config": config_to_dict(config)}
    (run_dir / RUN_CONFIG_FILE).write_text(json.dumps(document, indent=2) + "\n")
    return run_dir


def train_fold(
    market: MarketData,
    fold: Fold,
    variant: str,
    config: TrainConfig,
    run_dir: Path,
    *,
    last: bool,
    resume: bool = False,
    progress: bool = True,
    start_from: StartingPoint | None = None,
    walk_forward: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Train one fold into `run_dir/fold_<year>/` (predictions, metrics; the model too when it
    is the `last` fold, into `run_dir`); returns its predictions and metrics record.

    Folds are independent (each model is seeded afresh), so they may run in any order or at
    once: a walk-forward run on Ray runs one per Tune trial.
    """
    fold_dir = run_dir / f"{FOLD_PREFIX}{fold.validation_year}"

    def write_epoch(record: dict) -> None:
        with (run_dir / METRICS_LOG).open("a") as handle:
            handle.write(json.dumps({"fold": fold.validation_year, **record}) + "\n")
        if on_epoch:
            on_epoch(record)

    if progress:
        print(f"{variant}: {fold.describe()}")
    outcome = run_fold(market, fold, variant, config, fold_dir, resume=resume,
                       on_epoch=write_epoch, progress=progress, start_from=start_from,
                       walk_forward=walk_forward)
    outcome.predictions.to_parquet(fold_dir / FOLD_PREDICTIONS, index=False)
    outcome.calibration_frame.to_parquet(fold_dir / FOLD_CALIBRATION, index=False)
    record = _fold_record(outcome)
    (fold_dir / FOLD_METRICS).write_text(json.dumps(record, indent=2) + "\n")
    if not last and not config.walk_forward.keep_fold_checkpoints:
        (fold_dir / STATE_FILE).unlink(missing_ok=True)
    if last or config.walk_forward.keep_fold_checkpoints:
        _save_model(outcome, variant, config, fold_dir if not last else run_dir)
    return outcome.predictions, record


def _plot(run_dir: Path, fold_metrics: list[dict], horizons: tuple[int, ...]) -> None:
    """Loss curves from the epoch log; with several folds, the fold summary too."""
    log = run_dir / METRICS_LOG
    history = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    if history:
        plot_loss_curves(history, run_dir / "loss_curves.png")
    if len(fold_metrics) > 1:
        by_model = {
            name: [
                f["metrics"][name] | {"validation_year": f["validation_year"]} for f in fold_metrics
            ]
            for name in fold_metrics[0]["metrics"]
        }
        plot_fold_summary(by_model, horizons, run_dir / "folds.png")


def _save_model(outcome: FoldOutcome, variant: str, config: TrainConfig, folder: Path) -> None:
    save_checkpoint(
        folder,
        outcome.model,
        variant=variant,
        feature_names=outcome.data.feature_names,
        overrides=config.model_overrides(variant),
    )


def _fold_record(outcome: FoldOutcome) -> dict:
    fold, fit = outcome.fold, outcome.fit
    return {
        "fold": fold.number,
        "validation_year": fold.validation_year,
        "training_span": _span(fold.train_start, fold.train_end),
        "validation_span": _span(fold.validation_start, fold.validation_end),
        "train_samples": int(fold.train_mask.sum()),
        "validation_samples": int(fold.validation_mask.sum()),
        "n_features": len(outcome.data.feature_names),
        "feature_names": outcome.data.feature_names,
        "fit": {
            "epochs": len(fit.history),
            "best_epoch": fit.best_epoch,
            "best_val_loss": fit.best_val_loss,
            "stopped_by": fit.stopped_by,
            "seconds": round(fit.seconds, 1),
        },
        "metrics": outcome.metrics,
        "calibration": outcome.calibration.to_dict(),
    }


def _summary(run_dir, variant, config, walk_forward, market, folds, fold_metrics) -> dict:
    last = fold_metrics[-1]
    return {
        "variant": variant,
        "run_id": run_dir.name,
        "profile": config.profile,
        "mode": "walk_forward" if walk_forward else "single",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "symbols": list(market.windows.symbols),
        "horizons": list(market.horizons),
        "data_span": _span(
            market.windows.row_timestamps.min(), market.windows.row_timestamps.max()
        ),
        "training_span": last["training_span"],
        "validation_span": last["validation_span"],
        "n_features": last["n_features"],
        **fold_summary(variant, fold_metrics, market.horizons),
    }


def fold_summary(variant: str, fold_metrics: list[dict], horizons: tuple[int, ...]) -> dict:
    """The parts of `summary.json` that come from the fold records (metrics, calibration)."""
    last = fold_metrics[-1]
    overall = {
        name: summarise_folds([f["metrics"][name] for f in fold_metrics], horizons)
        for name in last["metrics"]
    }
    return {
        "metrics": last["metrics"][variant],
        "baselines": {
            name: metrics for name, metrics in last["metrics"].items()
            if name not in (variant, raw_name(variant))
        },
        "fit": last["fit"],
        "folds": [{k: v for k, v in f.items() if k != "feature_names"} for f in fold_metrics],
        "overall": overall,
        "leak_warnings": leak_warnings(overall[variant]),
        "calibration": last.get("calibration"),
    }


def _span(start: pd.Timestamp, end: pd.Timestamp) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat()}


def json_safe(value):
    """JSON has no NaN: undefined metrics (a constant guess has no IC) become null."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def train_from_cli(
    home: Home,
    variant: str,
    *,
    profile: str,
    walk_forward: bool = False,
    resume: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> list[Path]:
    """What `tradecast train` does: resume one run, or train one variant or all of them."""
    overrides = overrides or {}
    if resume:
        run_dir = find_run(home, resume)
        saved_variant, saved_walk_forward, config = read_run_config(run_dir)
        config = apply_overrides(config, overrides)
        return [train_run(home, saved_variant, config, walk_forward=saved_walk_forward,
                          run_dir=run_dir)]
    config = apply_overrides(load_profile(profile), overrides)
    market = load_market(BarStore(home.bars_dir), config.data, progress=True)
    return [train_run(home, name, config, walk_forward=walk_forward, market=market)
            for name in variant_names(variant)]


def variant_names(variant: str) -> list[str]:
    """The variants `--variant` names: one, or all four for "all"."""
    if variant == "all":
        return list(VARIANTS)
    if variant in VARIANTS:
        return [variant]
    raise ArtifactError(f"unknown variant {variant!r} (known: {', '.join(VARIANTS)}, all)")
