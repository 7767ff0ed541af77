"""Baselines and metrics on real sample data, checked against independent implementations."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ttest_1samp
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from marketdata.store import BarStore
from training.baselines import gradient_boosting, predict_baselines
from training.config import load_profile
from training.dataset import load_market, prepare_fold
from training.metrics import direction_scores, evaluate, rank_ic, summarise_folds
from training.walk_forward import make_folds

PROFILE = load_profile("tiny")


@pytest.fixture(scope="module")
def fold_samples(sample_home):
    market = load_market(BarStore(sample_home.bars_dir), PROFILE.data)
    fold = make_folds(market, PROFILE, walk_forward=False)[0]
    data = prepare_fold(market, fold, PROFILE.data.selection_threshold)
    return data.samples(data.train), data.samples(data.validation), sample_home


@pytest.fixture(scope="module")
def baselines(fold_samples):
    train, validation, _ = fold_samples
    return predict_baselines(train, validation)


def test_direction_scores_match_scikit_learn(fold_samples) -> None:
    _, validation, _ = fold_samples
    realised = validation.returns[:, 0]
    p_up = np.random.default_rng(0).uniform(size=len(realised))
    accuracy, balanced = direction_scores(1 - p_up, p_up, realised)
    moved = realised != 0
    truth, called = realised[moved] > 0, p_up[moved] >= 0.5
    assert accuracy == pytest.approx(accuracy_score(truth, called))
    assert balanced == pytest.approx(balanced_accuracy_score(truth, called))


def test_rank_ic_is_each_symbols_spearman_correlation(fold_samples) -> None:
    _, validation, _ = fold_samples
    realised = validation.returns[:, 1]
    noisy = realised + np.random.default_rng(1).normal(scale=0.05, size=len(realised))
    ic, t = rank_ic(noisy, realised, validation.symbols)
    frame = pd.DataFrame({"p": noisy, "r": realised, "s": validation.symbols})
    per_symbol = frame.groupby("s").apply(lambda g: g["p"].corr(g["r"], method="spearman"))
    counts = frame.groupby("s").size()
    assert ic == pytest.approx(np.average(per_symbol, weights=counts))
    assert t > 0
    assert math.isnan(rank_ic(np.ones(len(realised)), realised)[0])  # a constant has no rank


def test_fold_summary_t_stat_is_a_one_sample_t_test_of_yearly_ics() -> None:
    ics = [0.05, -0.01, 0.03, 0.02]
    folds = [{"rows": 100.0, "accuracy_1": 0.5 + i / 100, "ic_1": ic} for i, ic in enumerate(ics)]
    overall = summarise_folds(folds, (1,))
    assert overall["ic_1"] == pytest.approx(np.mean(ics))
    assert overall["ic_t_1"] == pytest.approx(ttest_1samp(ics, 0.0).statistic)
    assert overall["accuracy_1"] == pytest.approx(0.515)


def test_always_up_scores_the_share_of_up_moves_and_half_balanced(fold_samples, baselines) -> None:
    _, validation, _ = fold_samples
    predictions = baselines["always_up"]
    metrics = evaluate(predictions, validation.returns, validation.volatility, (1, 4, 24))
    for column, horizon in enumerate((1, 4, 24)):
        moved = validation.returns[:, column][validation.returns[:, column] != 0]
        assert metrics[f"accuracy_{horizon}"] == pytest.approx(np.mean(moved > 0))
        assert metrics[f"balanced_accuracy_{horizon}"] == pytest.approx(0.5)


def test_momentum_calls_the_sign_of_the_previous_return(fold_samples, baselines) -> None:
    _, validation, home = fold_samples
    predictions = baselines["momentum"]
    store = BarStore(home.bars_dir)
    for symbol in np.unique(validation.symbols):
        rows = validation.symbols == symbol
        close = store.read(symbol).set_index("timestamp")["close"]
        previous = (close / close.shift(1) - 1).loc[validation.timestamps[rows]].to_numpy()
        called_up = predictions.probabilities[rows, 0, 2] == 1
        called_down = predictions.probabilities[rows, 0, 0] == 1
        np.testing.assert_array_equal(called_up, previous > 0)
        np.testing.assert_array_equal(called_down, previous < 0)


def test_linear_baseline_is_a_proper_forecast_without_a_leak(fold_samples, baselines) -> None:
    train, validation, _ = fold_samples
    predictions = baselines["linear"]
    np.testing.assert_allclose(predictions.probabilities.sum(axis=-1), 1.0, atol=1e-5)
    assert np.isfinite(predictions.returns).all() and np.isfinite(predictions.volatility).all()
    metrics = evaluate(
        predictions, validation.returns, validation.volatility, (1, 4, 24), validation.symbols
    )
    # Daily stocks: anything above these is a look-ahead bug, not skill.
    assert metrics["accuracy_1"] < 0.6 and abs(metrics["ic_1"]) < 0.2
    # Volatility is persistent: a linear fit on volatility features must beat the mean guess.
    mean_guess = np.abs(validation.volatility[:, 2] - np.nanmean(train.volatility[:, 2])).mean()
    assert metrics["volatility_mae_24"] < mean_guess


def test_lightgbm_is_fitted_on_training_windows_only(fold_samples, baselines) -> None:
    """Validation labels changed beyond recognition leave its forecasts as they were; training
    labels changed the same way do not (so the test can fail)."""
    train, validation, _ = fold_samples
    before = baselines["lightgbm"]
    np.testing.assert_allclose(before.probabilities.sum(axis=-1), 1.0, atol=1e-5)
    planted = dataclasses.replace(
        validation, returns=-3.0 * validation.returns + 0.01,
        volatility=5.0 * validation.volatility, direction=2 - validation.direction,
    )
    again = gradient_boosting(train, planted)
    for name in ("probabilities", "returns", "volatility"):
        np.testing.assert_array_equal(getattr(again, name), getattr(before, name))
    shifted = dataclasses.replace(train, returns=-3.0 * train.returns + 0.01)
    assert not np.allclose(gradient_boosting(shifted, validation).returns, before.returns)
    # Volatility is persistent: the trees must beat the training mean guess as well.
    metrics = evaluate(before, validation.returns, validation.volatility, (1, 4, 24))
    mean_guess = np.abs(validation.volatility[:, 2] - np.nanmean(train.volatility[:, 2])).mean()
    assert metrics["volatility_mae_24"] < mean_guess
    assert metrics["accuracy_1"] < 0.6
