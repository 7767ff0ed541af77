"""Post-hoc calibration: what it fits, that it sees training windows only, and the refit."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from features.calibration import (
    Calibration,
    apply_calibration,
    brier_score,
    fit_calibration,
    scale_temperature,
)
from features.labels import HORIZONS
from marketdata.store import BarStore
from training.config import apply_overrides, load_profile
from training.dataset import load_market, prepare_fold
from training.loop import Trainer
from training.recalibrate import recalibrate_run
from training.runs import train_run
from training.walk_forward import (
    fit_fold_calibration,
    frame_predictions,
    make_folds,
    new_model,
)

PROFILE = load_profile("tiny")


def overconfident(n: int, seed: int = 0):
    """Three-class forecasts whose true probabilities are the softmax of logits / 3."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n, 1, 3))
    truth = scale_temperature(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True), 3.0)
    classes = np.array([[rng.choice(3, p=p[0])] for p in truth])
    stated = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return stated, classes


def test_temperature_softens_an_overconfident_forecaster_and_lowers_its_brier() -> None:
    stated, classes = overconfident(4000)
    flat = np.zeros((len(stated), 1))
    calibration = fit_calibration(stated, flat, flat + 0.01, realised_direction=classes,
                                  realised_returns=flat, realised_volatility=flat + 0.01)
    assert 2.0 < calibration.temperature[0] < 4.5  # the planted 3, from 4000 draws
    calibrated, _, _ = apply_calibration(calibration, stated, flat, flat + 0.01)
    assert brier_score(calibrated[:, 0], classes[:, 0]) < brier_score(stated[:, 0], classes[:, 0])
    np.testing.assert_allclose(calibrated.sum(-1), 1.0)


def test_a_map_that_does_not_help_on_the_newer_windows_is_not_kept() -> None:
    rng = np.random.default_rng(1)
    n = 3000
    probabilities = np.full((n, 1, 3), 1 / 3)
    classes = rng.integers(0, 3, size=(n, 1))  # honest: a third each
    predicted = rng.normal(scale=0.01, size=(n, 1))
    realised = 0.5 * predicted + rng.normal(scale=0.001, size=(n, 1))  # twice too bold
    volatility = np.abs(rng.normal(0.01, 0.002, size=(n, 1)))
    calibration = fit_calibration(probabilities, predicted, volatility,
                                  realised_direction=classes, realised_returns=realised,
                                  realised_volatility=volatility)
    assert calibration.temperature == (1.0,)  # a uniform forecast stays uniform
    assert calibration.return_scale[0] == pytest.approx(0.5, abs=0.02)  # it did help
    assert (calibration.volatility_intercept, calibration.volatility_slope) == ((0.0,), (1.0,))
    assert Calibration.from_dict(json.loads(json.dumps(calibration.to_dict()))) == calibration


@pytest.fixture(scope="module")
def fold_trainer(sample_home):
    market = load_market(BarStore(sample_home.bars_dir), PROFILE.data)
    fold = make_folds(market, PROFILE, walk_forward=False)[0]
    data = prepare_fold(market, fold, PROFILE.data.selection_threshold)
    return market, fold, Trainer(new_model("simplex", data, PROFILE), data, PROFILE,
                                 progress=False)


def test_calibration_sees_training_windows_only(fold_trainer) -> None:
    """A change planted in every validation row (labels and inputs) changes nothing; the same
    change in training rows does (so the test can fail)."""
    market, fold, trainer = fold_trainer
    before, frame = fit_fold_calibration(trainer, fold.number, "simplex", 256)
    assert (frame["timestamp"] <= fold.train_end).all()
    assert not before.is_identity  # something was fitted, so a change could show

    windows = market.windows
    saved = windows.targets.copy(), trainer.data.inputs.copy()
    validation_rows = windows.ends[fold.validation_index]
    training_rows = windows.ends[fold.train_index]
    try:
        # The validation bars themselves (their windows' earlier bars are training-span bars).
        windows.targets[validation_rows] = 2.0 - windows.targets[validation_rows]
        trainer.data.inputs[validation_rows] *= 5.0
        assert fit_fold_calibration(trainer, fold.number, "simplex", 256)[0] == before
        returns = [i for i, name in enumerate(windows.label_columns) if name.startswith("ret")]
        windows.targets[np.ix_(training_rows, returns)] *= -3.0
        assert fit_fold_calibration(trainer, fold.number, "simplex", 256)[0] != before
    finally:
        windows.targets[:], trainer.data.inputs[:] = saved


def test_refitting_a_run_reproduces_its_calibration_and_predictions(sample_home, tmp_path) -> None:
    from contract.home import resolve_home

    home = resolve_home(tmp_path / "home")
    shutil.copytree(sample_home.bars_dir, home.bars_dir)
    calibrated = apply_overrides(PROFILE, {"calibration_windows": "256"})  # tiny has none
    run_dir = train_run(home, "simplex", calibrated, walk_forward=True, progress=False)
    summary = json.loads((run_dir / "summary.json").read_text())
    predictions = pd.read_parquet(run_dir / "oos_predictions.parquet")
    assert summary["calibration"] == summary["folds"][-1]["calibration"]
    for record in summary["folds"]:  # served rows = the fold's calibration of its raw rows
        raw = pd.read_parquet(run_dir / f"fold_{record['validation_year']}/predictions.parquet")
        raw = raw[raw["model"] == "simplex"].sort_values(["symbol", "timestamp"])
        served = predictions[(predictions["model"] == "simplex")
                             & (predictions["fold"] == record["fold"])]
        served = served.sort_values(["symbol", "timestamp"])
        raw_p = frame_predictions(raw, HORIZONS)
        expected = apply_calibration(Calibration.from_dict(record["calibration"]),
                                     raw_p.probabilities, raw_p.returns, raw_p.volatility)
        got = frame_predictions(served, HORIZONS)
        for want, have in zip(expected, (got.probabilities, got.returns, got.volatility),
                              strict=True):
            np.testing.assert_allclose(have, want, rtol=1e-6, atol=1e-9)

    after = recalibrate_run(run_dir)
    assert after["calibration"] == summary["calibration"]
    pd.testing.assert_frame_equal(pd.read_parquet(run_dir / "oos_predictions.parquet"),
                                  predictions)
