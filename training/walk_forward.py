"""Folds of a run: which years are validated on, and one model (plus baselines) per fold.

A plain training run is the newest fold alone: train on everything up to the last year with
enough validation samples, validate on that year. A walk-forward run trains one model per
yearly fold (train to year N, validate on N + 1, roll), with the purge and embargo of
`features.splits`, and stitches every fold's out-of-sample predictions into one series per
symbol and model: `oos_predictions.parquet`, the backtest's input. The `symbols` scheme keeps
the yearly folds but trains on some symbols and validates on the held-out others.

Each fold also predicts a slice of its own training windows (evenly spaced in time) and fits
the model's post-hoc calibration on them (`features.calibration`): never on validation rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from contract.errors import ArtifactError, TradecastError
from contract.walk_forward import LABEL_KINDS
from features.calibration import Calibration, apply_calibration, fit_calibration
from features.splits import Fold, held_out_symbol_splits, walk_forward_splits
from training.baselines import predict_baselines
from training.config import TrainConfig
from training.dataset import FoldData, MarketData, Samples, prepare_fold
from training.loop import FitResult, Trainer
from training.metrics import Predictions, evaluate
from training.models import build_model
from training.models.heads import MultiTaskHeads

SCHEMES = ("yearly", "symbols")
MIN_VALIDATION_SAMPLES = 100  # a year with fewer validation windows gives no fold


@dataclass(frozen=True)
class StartingPoint:
    model: nn.Module  # trained weights to continue from (normaliser inside)
    feature_names: list[str]  # the inputs that model was built on, in order


@dataclass
class FoldOutcome:
    fold: Fold  # the split
    data: FoldData  # selected features, normaliser and samples of the fold
    model: nn.Module  # the trained model (best validation loss)
    fit: FitResult  # training history
    predictions: pd.DataFrame  # raw out-of-sample predictions of the model and every baseline,
    # with the realised labels
    metrics: dict[str, dict[str, float]]  # model or baseline name -> validation metrics
    calibration: Calibration  # fitted on `calibration_frame`, identity where it did not help
    calibration_frame: pd.DataFrame  # the model's raw predictions on training windows, labelled


def make_folds(market: MarketData, config: TrainConfig, walk_forward: bool) -> list[Fold]:
    """The newest usable fold, or every walk-forward fold in the configured years."""
    scheme = config.walk_forward.scheme
    first_year = config.walk_forward.first_validation_year
    yearly = {
        "first_validation_year": first_year if walk_forward else None,
        "embargo": config.data.embargo,
        "horizon": max(market.horizons),
    }
    if scheme == "yearly":
        folds = walk_forward_splits(market.sample_timestamps, market.sample_symbols, **yearly)
    elif scheme == "symbols":
        folds = held_out_symbol_splits(
            market.sample_timestamps, market.sample_symbols,
            tuple(s.upper() for s in config.walk_forward.holdout_symbols), **yearly
        )
    else:
        raise ArtifactError(f"walk_forward.scheme {scheme!r}: use one of {', '.join(SCHEMES)}")
    last_year = config.walk_forward.last_validation_year
    folds = [
        fold
        for fold in folds
        if fold.validation_mask.sum() >= MIN_VALIDATION_SAMPLES
        and (not last_year or fold.validation_year <= last_year)
    ]
    if not folds:
        raise TradecastError(
            f"no year with {MIN_VALIDATION_SAMPLES}+ validation windows after "
            f"{market.span[0]:%Y-%m-%d}: too little data to train on"
        )
    return folds if walk_forward else folds[-1:]


def run_fold(
    market: MarketData,
    fold: Fold,
    variant: str,
    config: TrainConfig,
    fold_dir: Path,
    *,
    resume: bool = False,
    on_epoch=None,
    progress: bool = True,
    start_from: StartingPoint | None = None,
    walk_forward: bool = True,
) -> FoldOutcome:
    """Fit selection, normaliser and a `variant` model on the fold; predict its validation.

    The model is fresh, or `start_from` (fine-tuning: its weights, inputs and normaliser kept).
    """
    names = start_from.feature_names if start_from else None
    data = prepare_fold(market, fold, config.data.selection_threshold, names)
    model = start_from.model if start_from else new_model(variant, data, config)
    trainer = Trainer(model, data, config, fold_dir, on_epoch=on_epoch, progress=progress)
    fit = trainer.fit(resume=resume)
    # Walk-forward predicts every validation window (the backtest needs whole series); a single
    # run scores the windows its validation loss used, which `max_val_windows` may thin out.
    scored = data.validation if walk_forward else trainer.validation
    validation = data.samples(scored)
    raw = trainer.predict(scored)
    everything = {variant: raw}
    # Linear algebra threads fight over a small busy CPU just like torch's do.
    threads = config.optim.threads or None
    with threadpool_limits(threads):
        everything.update(predict_baselines(
            data.samples(data.train), validation, seed=config.optim.seed, threads=threads or 0
        ))
    frames = [
        predictions_frame(validation, fold.number, name, predictions, market.horizons,
                          labelled=True)
        for name, predictions in everything.items()
    ]
    calibration, calibration_frame = fit_fold_calibration(
        trainer, fold.number, variant, config.walk_forward.calibration_windows
    )
    metrics = {name: fold_metrics(predictions, validation, market.horizons)
               for name, predictions in everything.items()}
    metrics[variant] = fold_metrics(
        Predictions(*apply_calibration(calibration, raw.probabilities, raw.returns,
                                       raw.volatility)),
        validation, market.horizons,
    )
    metrics[raw_name(variant)] = fold_metrics(raw, validation, market.horizons)
    return FoldOutcome(
        fold, data, trainer.model, fit, pd.concat(frames, ignore_index=True), metrics,
        calibration, calibration_frame,
    )


def raw_name(variant: str) -> str:
    """The metrics key of a variant's uncalibrated predictions."""
    return f"{variant} (raw)"


def fold_metrics(
    predictions: Predictions, samples: Samples, horizons: tuple[int, ...]
) -> dict[str, float]:
    return evaluate(predictions, samples.returns, samples.volatility, horizons, samples.symbols,
                    direction=samples.direction)


def fit_fold_calibration(
    trainer: Trainer, fold: int, variant: str, windows: int
) -> tuple[Calibration, pd.DataFrame]:
    """The trained model's calibration, fitted on `windows` of its fold's training windows.

    Returns it with the labelled predictions it was fitted on (what a refit reads back).
    """
    data = trainer.data
    fitted_on = calibration_samples(data, windows)
    horizons = len(data.market.horizons)
    predictions = trainer.predict(fitted_on) if len(fitted_on) else Predictions(
        np.zeros((0, horizons, 3)), np.zeros((0, horizons)), np.zeros((0, horizons))
    )
    frame = predictions_frame(data.samples(fitted_on), fold, variant, predictions,
                              data.market.horizons, labelled=True)
    return calibration_from_frame(frame, data.market.horizons), frame


def calibration_samples(data: FoldData, limit: int) -> np.ndarray:
    """Up to `limit` training samples evenly spaced in time, oldest first (none for 0)."""
    if not limit:
        return data.train[:0]
    stamps = data.market.sample_timestamps[data.train].asi8
    ordered = data.train[np.argsort(stamps, kind="stable")]
    if len(ordered) <= limit:
        return ordered
    return ordered[np.linspace(0, len(ordered) - 1, limit).round().astype(np.int64)]


def calibration_from_frame(frame: pd.DataFrame, horizons: tuple[int, ...]) -> Calibration:
    """Fit the calibration on a labelled frame of training-window predictions, in time order."""
    if frame.empty:
        return Calibration.identity(len(horizons))
    frame = frame.sort_values("timestamp", kind="stable")
    predictions = frame_predictions(frame, horizons)

    def labels(kind: str) -> np.ndarray:
        return frame[[f"{kind}_{h}" for h in horizons]].to_numpy()

    return fit_calibration(
        predictions.probabilities, predictions.returns, predictions.volatility,
        realised_direction=labels("dir").astype(np.int64),
        realised_returns=labels("ret").astype(np.float64),
        realised_volatility=labels("vol").astype(np.float64),
    )


def frame_predictions(frame: pd.DataFrame, horizons: tuple[int, ...]) -> Predictions:
    """The `Predictions` held in rows of the predictions format (`predictions_frame`)."""
    probabilities = np.stack(
        [frame[[f"p_down_{h}", f"p_flat_{h}", f"p_up_{h}"]].to_numpy() for h in horizons], axis=1
    )
    return Predictions(
        probabilities.astype(np.float64),
        frame[[f"ret_pred_{h}" for h in horizons]].to_numpy(np.float64),
        frame[[f"vol_pred_{h}" for h in horizons]].to_numpy(np.float64),
    )


def calibrated_rows(
    frame: pd.DataFrame, model: str, calibration: Calibration, horizons: tuple[int, ...]
) -> pd.DataFrame:
    """`frame` with `model`'s rows calibrated (the other models' rows as they are)."""
    rows = (frame["model"] == model).to_numpy()
    if calibration.is_identity or not rows.any():
        return frame
    raw = frame_predictions(frame[rows], horizons)
    calibrated = apply_calibration(calibration, raw.probabilities, raw.returns, raw.volatility)
    frame = frame.copy()
    for column, h in enumerate(horizons):
        for k, kind in enumerate(("p_down", "p_flat", "p_up")):
            frame.loc[rows, f"{kind}_{h}"] = calibrated[0][:, column, k]
        frame.loc[rows, f"ret_pred_{h}"] = calibrated[1][:, column]
        frame.loc[rows, f"vol_pred_{h}"] = calibrated[2][:, column]
    return frame


def new_model(variant: str, data: FoldData, config: TrainConfig) -> nn.Module:
    """A freshly initialised model (seeded) holding the fold's input normaliser."""
    if config.optim.threads:
        torch.set_num_threads(config.optim.threads)
    torch.manual_seed(config.optim.seed)
    model = build_model(variant, len(data.feature_names), **config.model_overrides(variant))
    model.set_normaliser(torch.from_numpy(data.mean), torch.from_numpy(data.std))
    start_heads_at_the_prior(model, data)
    return model


@torch.no_grad()
def start_heads_at_the_prior(model: nn.Module, data: FoldData) -> None:
    """Make a fresh model's first guess the training span's average outcome.

    Daily returns and volatilities are of order 1e-2, while fresh output layers give values of
    order one (volatility passes a softplus: 0.69 at zero), so the regression losses would start
    tens of standard deviations off and spend the short quick budget walking the biases there.
    The output biases start at the class log-priors, the mean return and the softplus inverse
    of the mean volatility, with output weights scaled to the targets' spread.
    """
    train = data.samples(data.train)
    for heads in (m for m in model.modules() if isinstance(m, MultiTaskHeads)):
        direction, returns, volatility = (
            head[-1] for head in (heads.direction, heads.returns, heads.volatility)
        )
        counts = np.stack([np.bincount(c[c >= 0], minlength=3) for c in train.direction.T]) + 1
        direction.bias.copy_(
            torch.from_numpy(np.log(counts / counts.sum(1, keepdims=True))).reshape(-1)
        )
        returns.bias.copy_(torch.from_numpy(np.nanmean(train.returns, axis=0)))
        returns.weight.mul_(torch.from_numpy(data.return_scale)[:, None])
        mean_volatility = torch.from_numpy(np.nanmean(train.volatility, axis=0)).float()
        volatility.bias.copy_(mean_volatility + torch.log(-torch.expm1(-mean_volatility)))
        volatility.weight.mul_(0.1)


def predictions_frame(
    samples: Samples,
    fold: int,
    model: str,
    predictions: Predictions,
    horizons: tuple[int, ...],
    *,
    labelled: bool = False,
) -> pd.DataFrame:
    """Rows in the `oos_predictions.parquet` format (docs/interfaces.md); `labelled` adds the
    realised labels `ret_<h>`, `dir_<h>`, `vol_<h>` (the fold files' format)."""
    columns: dict[str, object] = {
        "timestamp": samples.timestamps,
        "symbol": samples.symbols.astype(str),
        "fold": np.full(len(samples.rows), fold, dtype=np.int64),
        "model": np.full(len(samples.rows), model, dtype=object),
    }
    for column, horizon in enumerate(horizons):
        probabilities = predictions.probabilities[:, column]
        columns[f"p_down_{horizon}"] = probabilities[:, 0]
        columns[f"p_flat_{horizon}"] = probabilities[:, 1]
        columns[f"p_up_{horizon}"] = probabilities[:, 2]
        columns[f"ret_pred_{horizon}"] = predictions.returns[:, column]
        columns[f"vol_pred_{horizon}"] = predictions.volatility[:, column]
    if labelled:
        realised = {"ret": samples.returns, "dir": samples.direction, "vol": samples.volatility}
        for kind in LABEL_KINDS:
            for column, horizon in enumerate(horizons):
                columns[f"{kind}_{horizon}"] = realised[kind][:, column]
    return pd.DataFrame(columns)


def stitch(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One out-of-sample series per model and symbol, in time order (labels left out)."""
    stitched = pd.concat(frames, ignore_index=True)
    labels = re.compile(rf"({'|'.join(LABEL_KINDS)})_\d+")
    stitched = stitched.drop(columns=[c for c in stitched.columns if labels.fullmatch(c)])
    return stitched.sort_values(["model", "symbol", "timestamp"], kind="stable").reset_index(
        drop=True
    )
