"""The predictor, the ensemble and the bars -> signal pipeline, in process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contract.home import Home
from features.engine import compute_features
from features.windows import WINDOW, model_matrix
from marketdata.store import BarStore
from policy.signal_rule import SignalState, combine_horizons, step
from serving.config import ServingConfig
from serving.ensemble import combine, validation_weights
from serving.errors import InputError, UnknownVariantError
from serving.forecasting import MIN_BARS, Forecaster
from serving.predictor import OnnxPredictor
from serving.registry import ModelRegistry
from serving.windows import engine_rows, pick_columns


@pytest.fixture(scope="module")
def forecaster(exported_home: Home) -> Forecaster:
    return Forecaster(ModelRegistry(exported_home.exported_dir), ServingConfig())


def test_predictor_matches_a_bare_onnxruntime_run(forecaster: Forecaster, aapl) -> None:
    artifact = forecaster.registry.get("hybrid")
    window = model_matrix(compute_features(aapl.iloc[:400]), artifact.feature_names)[-WINDOW:]
    prediction = OnnxPredictor(artifact).predict(window[None])
    logits, returns, _, attention = artifact.session.run(None, {"features": window[None]})
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(prediction.probabilities, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(prediction.returns, returns)
    np.testing.assert_allclose(prediction.attention, attention)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_windows_never_reach_the_model(forecaster: Forecaster, bad: float) -> None:
    artifact = forecaster.registry.get("hybrid")
    window = np.ones((1, WINDOW, len(artifact.feature_names)), dtype=np.float32)
    window[0, 7, 3] = bad
    with pytest.raises(InputError, match=r"non-finite value at \[0, 7, 3\]"):
        OnnxPredictor(artifact).predict(window)


def test_too_few_bars_names_the_field_and_the_count(forecaster: Forecaster, aapl) -> None:
    with pytest.raises(InputError, match=f"bars: {MIN_BARS - 1} bars given.*{MIN_BARS}"):
        forecaster.forecast_bars("AAPL", aapl.iloc[: MIN_BARS - 1])


def test_unknown_variant(forecaster: Forecaster, aapl) -> None:
    with pytest.raises(UnknownVariantError, match="variant: unknown 'nope'"):
        forecaster.forecast_bars("AAPL", aapl.iloc[:MIN_BARS], variant="nope")


def test_combined_is_the_weighted_combination(forecaster: Forecaster, aapl) -> None:
    bars = aapl.iloc[-MIN_BARS:]
    single = {v: forecaster.forecast_bars("AAPL", bars, variant=v).prediction
              for v in forecaster.registry.models}
    weights = validation_weights(forecaster.registry.models)
    assert sum(weights.values()) == pytest.approx(1.0)
    combined = forecaster.forecast_bars("AAPL", bars, variant="combined").prediction
    for field in ("probabilities", "returns", "volatility", "attention"):
        expected = sum(weights[v] * getattr(p, field) for v, p in single.items())
        np.testing.assert_allclose(getattr(combined, field), expected, rtol=1e-5, atol=1e-7)
    given = combine(single, {v: 1.0 if v == "hybrid" else 0.0 for v in single})
    np.testing.assert_allclose(given.returns, single["hybrid"].returns)


def test_signal_uses_the_shared_rule_from_flat(forecaster: Forecaster, aapl) -> None:
    result = forecaster.forecast_bars("AAPL", aapl.iloc[-MIN_BARS:])
    rule = forecaster.config.signal_rule
    probs, per_bar, vol = combine_horizons(result.prediction.probabilities,
                                           result.prediction.returns,
                                           result.prediction.volatility, result.horizons, rule)
    assert result.signal == step(SignalState(), probs[0], per_bar[0], float(vol[0]), rule)
    assert result.timestamp == pd.Timestamp(aapl["timestamp"].iloc[-1])


def test_column_picking_equals_model_matrix(forecaster: Forecaster, sample_home: Home) -> None:
    """The array fast path the live path uses gives exactly `model_matrix`'s input."""
    store = BarStore(sample_home.bars_dir)
    spy = store.read("SPY", "1d")  # starts 2007: earlier rows have context missing (filled)
    frame = compute_features(store.read("AAPL", "1d").iloc[700:1200], {"SPY": spy})
    names = forecaster.registry.get("hybrid").feature_names
    expected = model_matrix(frame, names)
    np.testing.assert_array_equal(pick_columns(engine_rows(frame), names), expected)
    assert np.isnan(expected).sum() < expected.size  # a real comparison, not NaN vs NaN


def test_full_variant_takes_a_position(forecaster: Forecaster, aapl) -> None:
    artifact = forecaster.registry.get("full")
    assert artifact.position_dim > 0
    bars = aapl.iloc[-MIN_BARS:]
    flat = forecaster.forecast_bars("AAPL", bars, variant="full").prediction
    zeros = forecaster.forecast_bars("AAPL", bars, variant="full",
                                     position=[0.0] * artifact.position_dim).prediction
    np.testing.assert_allclose(flat.returns, zeros.returns)  # no position means flat
    with pytest.raises(InputError, match="position"):
        forecaster.forecast_bars("AAPL", bars, variant="full", position=[0.0])


def test_a_batch_spread_over_lanes_equals_one_run_per_window(exported_home: Home, aapl) -> None:
    """Windows split across concurrent runs come back in order, each as if run alone."""
    frame = compute_features(aapl.iloc[:400])
    ends = np.arange(len(frame) - 37, len(frame))  # 37: the lanes' runs differ in size
    registry = ModelRegistry(exported_home.exported_dir)
    spread = Forecaster(registry, ServingConfig(model_lanes=3))
    alone = Forecaster(registry, ServingConfig(model_lanes=1))
    batched, _, _ = spread.predict_windows(frame, "full", ends, position=[0.5] * 4)
    assert spread.lane_count == 3 and len(batched.returns) == len(ends)
    for row, end in enumerate(ends[::9]):
        single, _, _ = alone.predict_windows(frame, "full", np.array([end]), position=[0.5] * 4)
        np.testing.assert_allclose(batched.row(9 * row).returns, single.returns, rtol=1e-4,
                                   atol=1e-6)
        np.testing.assert_allclose(batched.row(9 * row).attention, single.attention,
                                   rtol=1e-4, atol=1e-6)
