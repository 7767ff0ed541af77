"""The shared signal rule: batch and one-bar forms agree, and the turnover controls hold."""

from __future__ import annotations

import numpy as np
import pytest

from contract.errors import TradecastError
from policy.signal_rule import (
    SignalRuleConfig,
    SignalState,
    combine_horizons,
    positions_from_predictions,
    step,
)

CONFIGS = [
    SignalRuleConfig(),
    SignalRuleConfig(min_hold_bars=0, no_trade_band=0.0, cost_multiple=0.0, min_prob_margin=0.0),
    SignalRuleConfig(min_hold_bars=3, no_trade_band=0.1, target_volatility=0.01, max_position=0.8),
]


def noisy_predictions(seed: int, bars: int = 1_500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forecasts like a weak model's: small expected returns of random sign, loosely sized vol."""
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.002, bars)
    tilt = np.clip(returns * 60, -0.4, 0.4) + rng.normal(0.0, 0.05, bars)
    up = np.clip(0.35 + tilt / 2, 0.01, 0.98)
    down = np.clip(0.35 - tilt / 2, 0.01, 0.98)
    probabilities = np.column_stack([down, np.clip(1 - up - down, 0.0, 1.0), up])
    volatility = rng.uniform(0.005, 0.03, bars)
    return probabilities, returns, volatility


def changes(positions: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.diff(np.concatenate([[0.0], positions])) != 0)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("seed", [0, 1])
def test_batch_and_one_bar_forms_give_identical_positions(config, seed):
    probabilities, returns, volatility = noisy_predictions(seed)
    batch = positions_from_predictions(probabilities, returns, volatility, config)

    state, live = SignalState(), []
    for probs, expected, vol in zip(probabilities, returns, volatility, strict=True):
        state = step(state, probs, expected, vol, config)
        live.append(state.position)
    assert np.array_equal(batch, np.array(live))
    assert len(changes(batch)) > 10  # the series really trades, so the comparison means something


@pytest.mark.parametrize("config", CONFIGS)
def test_minimum_holding_time_and_no_trade_band_hold(config):
    probabilities, returns, volatility = noisy_predictions(2)
    positions = positions_from_predictions(probabilities, returns, volatility, config)
    moments = changes(positions)
    for before, after in zip(moments[:-1], moments[1:], strict=True):
        if positions[before] != 0.0:
            assert after - before >= config.min_hold_bars
    steps = np.diff(np.concatenate([[0.0], positions]))[moments]
    to_flat = positions[moments] == 0.0
    assert np.all(to_flat | (np.abs(steps) >= config.no_trade_band))
    assert np.all(np.abs(positions) <= config.max_position)


def test_only_trades_when_the_expected_edge_beats_the_round_trip_cost():
    config = SignalRuleConfig(round_trip_cost=0.004, min_hold_bars=5)  # needs > 0.0008 a bar
    confident_up = np.tile([0.05, 0.05, 0.9], (20, 1))
    below = positions_from_predictions(confident_up, np.full(20, 0.00079), config=config)
    above = positions_from_predictions(confident_up, np.full(20, 0.00081), config=config)
    assert np.all(below == 0.0)
    assert np.all(above == 1.0)

    stricter = SignalRuleConfig(round_trip_cost=0.004, min_hold_bars=5, cost_multiple=2.0)
    assert np.all(positions_from_predictions(confident_up, np.full(20, 0.00081),
                                             config=stricter) == 0.0)


def test_direction_probabilities_must_agree_with_the_expected_return():
    config = SignalRuleConfig(min_prob_margin=0.1)
    strong = np.full(10, 0.01)
    says_down = np.tile([0.6, 0.2, 0.2], (10, 1))
    barely_up = np.tile([0.3, 0.35, 0.35], (10, 1))  # margin 0.05 < 0.1
    assert np.all(positions_from_predictions(says_down, strong, config=config) == 0.0)
    assert np.all(positions_from_predictions(barely_up, strong, config=config) == 0.0)
    assert np.all(positions_from_predictions(says_down, -strong, config=config) == -1.0)


def test_a_weak_view_keeps_a_position_and_a_contrary_one_closes_it():
    config = SignalRuleConfig(min_hold_bars=1)
    held = SignalState(position=1.0, bars_held=3)
    up = np.array([0.2, 0.3, 0.5])
    assert step(held, up, 0.0001, config=config) == SignalState(1.0, 4)  # weak, same way: keep
    assert step(held, up, -0.0001, config=config) == SignalState(0.0, 1)  # weak, against: close
    young = SignalState(position=1.0, bars_held=0)
    assert step(young, up, -0.0001, config=SignalRuleConfig(min_hold_bars=5)).position == 1.0


def test_turnover_is_far_below_trading_every_forecast_flip():
    probabilities, returns, _ = noisy_predictions(3, bars=2_520)  # ten years of daily bars
    positions = positions_from_predictions(probabilities, returns)
    naive = np.sign(returns)  # ~125 changes a year on these pure-noise forecasts
    per_year = len(changes(positions)) / 10
    assert per_year < len(changes(naive)) / 10 / 3
    # A position lives at least min_hold_bars (10), so even noise cannot churn much faster.
    assert np.abs(np.diff(positions)).sum() / 10 < 2 * 252 / SignalRuleConfig().min_hold_bars


def test_volatility_sizing_targets_the_volatility_and_caps_at_max_position():
    config = SignalRuleConfig(target_volatility=0.01, max_position=0.9, min_hold_bars=0)
    up, strong = np.array([0.1, 0.1, 0.8]), 0.01
    assert step(SignalState(), up, strong, 0.02, config).position == pytest.approx(0.5)
    assert step(SignalState(), up, strong, 0.005, config).position == 0.9
    assert step(SignalState(), up, strong, None, config).position == 0.9
    with pytest.raises(TradecastError, match="volatility must be finite and > 0"):
        step(SignalState(), up, strong, 0.0, config)


def test_combine_horizons_averages_the_chosen_horizons_per_bar():
    probabilities = np.array([[[0.2, 0.2, 0.6], [0.1, 0.3, 0.6], [0.4, 0.2, 0.4]]])  # (1, 3, 3)
    returns = np.array([[0.002, 0.012, 0.048]])
    volatility = np.array([[0.01, 0.02, 0.03]])
    config = SignalRuleConfig(horizons=(1, 4))
    probs, per_bar, vol = combine_horizons(probabilities, returns, volatility, (1, 4, 24), config)
    assert probs[0] == pytest.approx([0.15, 0.25, 0.6])
    assert per_bar[0] == pytest.approx((0.002 + 0.003) / 2)
    assert vol[0] == pytest.approx(0.015)
    with pytest.raises(TradecastError, match=r"horizons \[4\] are not the model's \[1, 24\]"):
        combine_horizons(probabilities[:, :2], returns[:, :2], None, (1, 24), config)


def test_bad_predictions_name_the_row():
    probabilities = np.tile([0.3, 0.3, 0.4], (5, 1))
    probabilities[3, 2] = np.nan
    with pytest.raises(TradecastError, match=r"row 3: probabilities must be 3 finite values"):
        positions_from_predictions(probabilities, np.zeros(5))
    with pytest.raises(TradecastError, match=r"row 1: expected return is nan"):
        positions_from_predictions(probabilities[:3], np.array([0.0, np.nan, 0.0]))
    with pytest.raises(TradecastError, match=r"probabilities must be \(T, 3\)"):
        positions_from_predictions(np.ones((5, 2)), np.zeros(5))
    with pytest.raises(TradecastError, match="max_position"):
        SignalRuleConfig(max_position=1.5)
