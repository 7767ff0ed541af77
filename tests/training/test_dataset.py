"""The training dataset: stacked symbols, aligned labels, windows gathered from shared arrays,
and a normaliser and feature selection fitted on training rows only."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from features.engine import FEATURE_SPECS, model_candidates
from features.labels import make_labels
from features.selection import select_features
from marketdata.store import BarStore
from training.config import load_profile
from training.dataset import load_market, prepare_fold
from training.walk_forward import make_folds

PROFILE = load_profile("tiny")


@pytest.fixture(scope="module")
def market(sample_home):
    universe = dataclasses.replace(PROFILE.data, symbols=())  # the whole sample universe
    return load_market(BarStore(sample_home.bars_dir), universe)


@pytest.fixture(scope="module")
def fold(market):
    return make_folds(market, PROFILE, walk_forward=False)[0]


def test_every_universe_symbol_is_stacked_with_its_own_labels(market, sample_home) -> None:
    assert list(market.windows.symbols) == ["AAPL", "GOOG", "INTC", "SPY"]
    store = BarStore(sample_home.bars_dir)
    for symbol in ("GOOG", "INTC"):
        bars = store.read(symbol)
        expected = make_labels(bars).set_index("timestamp")
        rows = market.windows.ends[market.sample_symbols == symbol]
        stamps = market.windows.row_timestamps[rows]
        np.testing.assert_allclose(
            market.labels("ret")[rows, 1], expected.loc[stamps, "ret_4"], rtol=1e-5
        )
        # The momentum input is the return over the bars up to the window end, from the closes.
        close = bars.set_index("timestamp")["close"]
        past = (close / close.shift(1) - 1).loc[stamps].to_numpy()
        np.testing.assert_allclose(market.past_returns[rows, 0], past, rtol=1e-9)


def test_batches_are_gathered_from_the_shared_matrix(market, fold) -> None:
    data = prepare_fold(market, fold, threshold=0.8)
    samples = np.array([0, 7, len(market.windows) - 1])
    columns = [market.windows.names.index(name) for name in data.feature_names]
    batch = data.batch_inputs(samples)
    assert batch.shape == (3, 60, len(columns)) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch, market.windows.batch(samples)[:, :, columns])
    # One row per bar is stored, however many 60-bar windows overlap on it.
    assert data.inputs.shape == (len(market.windows.matrix), len(columns))
    assert np.isfinite(batch).all()


def test_normaliser_and_selection_see_no_validation_rows(market, fold) -> None:
    clean = prepare_fold(market, fold, threshold=0.8)
    later = np.asarray(market.windows.row_timestamps > fold.train_end)
    assert later.any() and (~later).any()
    # Plant one enormous value in every feature on every row after the last training sample
    # (the embargo and the validation year): seen by a fit, it would swamp means and standard
    # deviations and make every feature perfectly correlated with every other.
    windows = copy.copy(market.windows)
    windows.matrix = market.windows.matrix.copy()
    windows.matrix[later] = 1e6
    frame = market.frame.copy()
    frame.loc[later, market.windows.names] = 1e6
    planted = dataclasses.replace(market, windows=windows, frame=frame)

    fitted = prepare_fold(planted, fold, threshold=0.8)
    assert fitted.feature_names == clean.feature_names
    np.testing.assert_array_equal(fitted.mean, clean.mean)
    np.testing.assert_array_equal(fitted.std, clean.std)
    np.testing.assert_array_equal(fitted.return_scale, clean.return_scale)
    # The plant is strong enough to matter: fitted on every row, the selection changes.
    everything = np.ones(len(frame), dtype=bool)
    assert select_features(frame, market.windows.names, everything, 0.8) != clean.feature_names
    assert fitted.inputs[later].max() == 1e6  # the plant is really in the model's inputs


def test_fold_scales_the_regression_targets_by_their_training_spread(market, fold) -> None:
    data = prepare_fold(market, fold, threshold=0.8)
    rows = market.windows.ends[data.train]
    expected = np.nanstd(market.labels("ret")[rows].astype(np.float64), axis=0)
    np.testing.assert_allclose(data.return_scale, expected, rtol=1e-5)
    assert 0.005 < data.return_scale[0] < 0.05  # a daily stock return's spread


def test_models_are_never_given_price_level_columns(market, fold) -> None:
    selected = prepare_fold(market, fold, threshold=0.99).feature_names
    levels = {name for name, spec in FEATURE_SPECS.items() if not spec.scale_free}
    assert {"sma_20", "ema_20", "obv", "vwap", "bb_upper_20", "atr_14"} <= levels
    assert not levels & set(selected)
    assert set(selected) <= set(model_candidates())
