"""The training loop on real sample data: loss falls, early stopping stops, resuming is exact."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from marketdata.store import BarStore
from training.config import apply_overrides, load_profile
from training.dataset import load_market, prepare_fold
from training.loop import Trainer
from training.walk_forward import make_folds, new_model

PROFILE = load_profile("tiny")


@pytest.fixture(scope="module")
def data(sample_home):
    market = load_market(BarStore(sample_home.bars_dir), PROFILE.data)
    fold = make_folds(market, PROFILE, walk_forward=False)[0]
    return prepare_fold(market, fold, PROFILE.data.selection_threshold)


def _config(**overrides: str):
    return apply_overrides(PROFILE, overrides)


def _trainer(data, config, state_dir=None) -> Trainer:
    return Trainer(new_model("simplex", data, config), data, config, state_dir, progress=False)


def test_training_loss_falls_on_real_bars(data) -> None:
    # A few hundred real windows, seen many times: the loss on them must go down.
    subset = dataclasses.replace(data, train=data.train[-96:], validation=data.train[-96:])
    config = _config(max_epochs="6", steps_per_epoch="3", enabled="false")
    trainer = _trainer(subset, config)
    before = trainer.evaluate()["val_loss"]
    result = trainer.fit()
    after = trainer.evaluate()["val_loss"]
    assert after < before - 0.05, (before, after)
    losses = [record["train_loss"] for record in result.history]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_early_stopping_stops_after_patience_epochs_without_improvement(data) -> None:
    # With a zero learning rate nothing improves after the first epoch.
    config = _config(
        max_epochs="50", patience="3", learning_rate="0", min_learning_rate="0", steps_per_epoch="1"
    )
    result = _trainer(data, config).fit()
    assert result.stopped_by == "patience"
    assert result.best_epoch == 0
    assert len(result.history) == 4  # the best epoch, then three without improvement


def test_the_time_budget_ends_training(data) -> None:
    config = _config(max_epochs="50", time_budget_s="0.001")
    result = _trainer(data, config).fit()
    assert result.stopped_by == "time_budget"
    assert len(result.history) == 1 and result.history[0]["steps"] == 1


def test_best_weights_are_kept(data) -> None:
    config = _config(max_epochs="3", learning_rate="0.05", enabled="false", steps_per_epoch="2")
    trainer = _trainer(data, config)
    result = trainer.fit()
    best = min(result.history, key=lambda record: record["val_loss"])
    assert result.best_epoch == best["epoch"]
    assert trainer.evaluate()["val_loss"] == pytest.approx(best["val_loss"], rel=1e-6)


def test_resuming_gives_the_same_model_as_an_uninterrupted_run(data, tmp_path) -> None:
    # Three epochs cross the curriculum's switch-over and need the schedule and RNG states.
    straight = _trainer(data, _config(max_epochs="3"), tmp_path / "straight")
    straight_result = straight.fit()

    interrupted = _trainer(data, _config(max_epochs="1"), tmp_path / "resumed")
    interrupted.fit()
    resumed = _trainer(data, _config(max_epochs="3"), tmp_path / "resumed")
    resumed_result = resumed.fit(resume=True)

    assert len(resumed_result.history) == 3
    for a, b in zip(straight_result.history, resumed_result.history, strict=True):
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-6)
    for (name, a), (_, b) in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().items(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-6), name
