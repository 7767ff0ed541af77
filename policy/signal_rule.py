"""The signal rule: model predictions in, a target position in [-1, 1] out.

Serving (one bar at a time), batch signal generation and the backtest all call this module, so a
position seen in a backtest is the position the live service would have taken.

A raw forecast flips sign often; trading every flip loses the edge to costs (daily signals that
change position ~105 times a year lose money after 20 bps per change even with a gross Sharpe of
0.85). So the rule only moves when it is worth paying for:

1. Cost-aware threshold: a position is opened, grown or flipped only when the expected return over
   the minimum holding time exceeds ``cost_multiple`` x the round-trip cost, and the direction
   probabilities agree with the sign of the expected return.
2. A weak forecast that still points the same way keeps the position; one that points against it
   closes it (closing is the cheaper half of a round trip and stops a losing view).
3. No-trade band: a change smaller than ``no_trade_band`` is not made.
4. Minimum holding time: a position is kept at least ``min_hold_bars`` bars.

Both forms share :func:`_decide`: :func:`step` advances a :class:`SignalState` by one bar (the
live path), :func:`positions_from_predictions` runs the same decision over a whole series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from contract.errors import TradecastError


@dataclass(frozen=True)
class SignalRuleConfig:
    horizons: tuple[int, ...] = (1,)  # forecast horizons (bars) averaged into one per-bar view
    round_trip_cost: float = 0.004  # fraction of notional: 2 x (10 bps slippage + 10 bps fee)
    cost_multiple: float = 1.0  # expected edge must exceed this many round-trip costs to trade
    min_prob_margin: float = 0.05  # p_up - p_down (or the reverse) needed to trust a direction
    no_trade_band: float = 0.25  # target changes smaller than this (in position units) are skipped
    min_hold_bars: int = 10  # bars a non-flat position is held before it may change
    max_position: float = 1.0  # size of a full position, at most 1
    target_volatility: float | None = None  # per-bar vol of a full position; None = no vol sizing

    def __post_init__(self) -> None:
        if not 0.0 < self.max_position <= 1.0:
            raise TradecastError(f"signal rule: max_position must be in (0, 1], "
                                 f"got {self.max_position}")
        if self.min_hold_bars < 0 or self.no_trade_band < 0 or self.round_trip_cost < 0:
            raise TradecastError("signal rule: min_hold_bars, no_trade_band and round_trip_cost "
                                 "must not be negative")
        if not self.horizons or any(h < 1 for h in self.horizons):
            raise TradecastError(f"signal rule: horizons must be >= 1 bar, got {self.horizons}")

    @property
    def entry_threshold(self) -> float:
        """Expected return over the holding time that pays for a round trip (times the margin)."""
        return self.cost_multiple * self.round_trip_cost


@dataclass(frozen=True)
class SignalState:
    position: float = 0.0  # the current target position in [-1, 1]
    bars_held: int = 0  # bars since the position last changed


def combine_horizons(
    probabilities: np.ndarray,
    expected_returns: np.ndarray,
    volatility: np.ndarray | None,
    model_horizons: Sequence[int],
    config: SignalRuleConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Average the chosen horizons into one per-bar view.

    Inputs are the model's outputs per horizon: ``probabilities (T, H, 3)`` (down, flat, up),
    ``expected_returns (T, H)`` over each horizon and ``volatility (T, H)`` of per-bar log returns.
    Returns ``(probabilities (T, 3), expected return per bar (T,), volatility per bar (T,))``.
    """
    model_horizons = list(model_horizons)
    missing = [h for h in config.horizons if h not in model_horizons]
    if missing:
        raise TradecastError(f"signal rule: horizons {missing} are not the model's "
                             f"{model_horizons}")
    columns = [model_horizons.index(h) for h in config.horizons]
    lengths = np.asarray(config.horizons, dtype=np.float64)
    probs = np.asarray(probabilities, dtype=np.float64)[:, columns, :].mean(axis=1)
    returns = np.asarray(expected_returns, dtype=np.float64)[:, columns]
    per_bar_return = (returns / lengths).mean(axis=1)
    per_bar_vol = None
    if volatility is not None:
        per_bar_vol = np.asarray(volatility, dtype=np.float64)[:, columns].mean(axis=1)
    return probs, per_bar_return, per_bar_vol


def step(
    state: SignalState,
    probabilities: Sequence[float] | np.ndarray,
    expected_return: float,
    volatility: float | None = None,
    config: SignalRuleConfig = SignalRuleConfig(),
) -> SignalState:
    """Advance the rule by one bar: ``probabilities`` (down, flat, up), ``expected_return`` per
    bar and, for volatility sizing, ``volatility`` per bar (see :func:`combine_horizons`)."""
    p_down, _, p_up = _checked_probabilities(np.asarray(probabilities, dtype=np.float64), "bar")
    return _decide(state, p_up - p_down, float(expected_return), volatility, config, "bar")


def positions_from_predictions(
    probabilities: np.ndarray,
    expected_returns: np.ndarray,
    volatility: np.ndarray | None = None,
    config: SignalRuleConfig = SignalRuleConfig(),
    initial: SignalState = SignalState(),
) -> np.ndarray:
    """Target positions (T,) for one symbol's series of per-bar predictions, oldest first.

    ``probabilities (T, 3)`` (down, flat, up), ``expected_returns (T,)`` per bar and
    ``volatility (T,)`` per bar or None. Equal, bar for bar, to calling :func:`step` in a loop
    from ``initial``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    expected_returns = np.asarray(expected_returns, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] != 3:
        raise TradecastError(f"signal rule: probabilities must be (T, 3), "
                             f"got {probabilities.shape}")
    if expected_returns.shape != (len(probabilities),):
        raise TradecastError(f"signal rule: expected_returns must be ({len(probabilities)},), "
                             f"got {expected_returns.shape}")
    bad = ~np.all(np.isfinite(probabilities) & (probabilities >= 0), axis=1)
    if bad.any():
        row = int(bad.argmax())
        _checked_probabilities(probabilities[row], f"row {row}")
    margins = probabilities[:, 2] - probabilities[:, 0]
    volatilities = (
        [None] * len(margins) if volatility is None
        else np.asarray(volatility, dtype=np.float64).tolist()
    )
    positions = np.empty(len(margins))
    state = initial
    rows = zip(margins.tolist(), expected_returns.tolist(), volatilities, strict=True)
    for row, (margin, expected, vol) in enumerate(rows):
        state = _decide(state, margin, expected, vol, config, f"row {row}")
        positions[row] = state.position
    return positions


def _checked_probabilities(probs: np.ndarray, where: str) -> np.ndarray:
    if probs.shape != (3,) or not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise TradecastError(f"signal rule: {where}: probabilities must be 3 finite values >= 0, "
                             f"got {probs.tolist()}")
    return probs


def _decide(
    state: SignalState,
    margin: float,
    expected_return: float,
    volatility: float | None,
    config: SignalRuleConfig,
    where: str,
) -> SignalState:
    """The one decision both forms make: the next state from the current one and one forecast."""
    if not math.isfinite(expected_return):
        raise TradecastError(f"signal rule: {where}: expected return is {expected_return}")
    target = _wanted_position(state.position, margin, expected_return, volatility, config, where)
    held_long_enough = state.position == 0.0 or state.bars_held >= config.min_hold_bars
    big_enough = abs(target - state.position) >= config.no_trade_band or (
        target == 0.0 and state.position != 0.0
    )
    if target != state.position and held_long_enough and big_enough:
        return SignalState(position=target, bars_held=1)
    return SignalState(position=state.position, bars_held=state.bars_held + 1)


def _wanted_position(
    current: float,
    margin: float,
    expected_return: float,
    volatility: float | None,
    config: SignalRuleConfig,
    where: str,
) -> float:
    direction = float((expected_return > 0) - (expected_return < 0))
    agrees = direction * margin >= config.min_prob_margin
    edge = abs(expected_return) * max(config.min_hold_bars, 1)
    if agrees and edge > config.entry_threshold:
        return direction * _size(volatility, config, where)
    if current * expected_return >= 0.0:
        return current  # a weak view that does not contradict the position keeps it
    return 0.0


def _size(volatility: float | None, config: SignalRuleConfig, where: str) -> float:
    if config.target_volatility is None or volatility is None:
        return config.max_position
    if not math.isfinite(volatility) or volatility <= 0:
        raise TradecastError(f"signal rule: {where}: volatility must be finite and > 0, "
                             f"got {volatility}")
    return min(config.max_position, config.target_volatility / volatility)
