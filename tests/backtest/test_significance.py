"""Block-bootstrap intervals: a planted edge is found, pure noise is not (seeded)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from features.bootstrap import rank_ic_interval, sharpe_difference, stationary_indices

DAYS = 1500  # six years of daily bars


def market(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0003, 0.01, DAYS)


def test_stationary_bootstrap_draws_blocks_of_consecutive_bars() -> None:
    picks = stationary_indices(DAYS, block=20, resamples=200, rng=np.random.default_rng(0))
    assert picks.shape == (200, DAYS) and picks.min() >= 0 and picks.max() < DAYS
    steps = np.diff(picks, axis=1)
    continued = (steps == 1) | (steps == 1 - DAYS)  # the next bar, or wrapping past the end
    assert 1 / (1 - continued.mean()) == pytest.approx(20, rel=0.15)  # mean block length
    assert len(np.unique(picks[0])) < DAYS  # drawn with replacement


def test_a_strategy_with_a_known_edge_beats_buy_and_hold_outside_the_interval() -> None:
    benchmark = market(1)
    edge = benchmark + np.random.default_rng(2).normal(0.0008, 0.004, DAYS)  # same market + alpha
    interval = sharpe_difference(edge, benchmark, 252, seed=0)
    assert interval.low > 0 and not interval.covers_zero
    assert interval.low < interval.estimate < interval.high


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_pure_noise_against_buy_and_hold_covers_zero(seed: int) -> None:
    benchmark = market(seed)
    noise = market(seed + 100)  # the same distribution, no edge
    interval = sharpe_difference(noise, benchmark, 252, seed=seed)
    assert interval.covers_zero


def test_rank_ic_interval_finds_a_planted_signal_and_not_noise() -> None:
    rng = np.random.default_rng(6)
    realised = rng.normal(size=3 * DAYS)
    symbols = np.repeat(["AAPL", "GOOG", "SPY"], DAYS)
    stamps = np.tile(np.arange(DAYS), 3)
    signal = 0.1 * realised + rng.normal(size=3 * DAYS)
    found = rank_ic_interval(signal, realised, symbols, stamps, block=10)
    per_symbol = [spearmanr(signal[symbols == s], realised[symbols == s]).statistic
                  for s in ("AAPL", "GOOG", "SPY")]
    assert found.estimate == pytest.approx(np.mean(per_symbol))  # the rank IC itself
    assert found.low > 0 and found.t > 2
    noise = rank_ic_interval(rng.normal(size=3 * DAYS), realised, symbols, stamps, block=10)
    assert noise.covers_zero and abs(noise.t) < 2


def test_a_constant_forecast_has_no_interval() -> None:
    realised = np.random.default_rng(7).normal(size=DAYS)
    interval = rank_ic_interval(np.ones(DAYS), realised, np.zeros(DAYS), np.arange(DAYS), block=10)
    assert np.isnan(interval.estimate) and interval.covers_zero
