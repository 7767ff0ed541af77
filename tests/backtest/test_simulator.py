"""The simulator on hand-computed cases: costs, fill timing, limits, the loss stop, delistings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.costs import CostModel
from backtest.risk import RiskLimits
from backtest.runner import truncate_at_end_dates
from backtest.signals import validate_signals
from backtest.simulator import BacktestConfig, simulate
from contract.errors import BarDataError
from tests.backtest.helpers import make_bars, make_signals

CAPITAL = 1_000_000.0
NO_STOP = RiskLimits(daily_loss_stop=None)


def run(signals: pd.DataFrame, bars: dict[str, pd.DataFrame], **settings):
    settings.setdefault("risk", NO_STOP)
    config = BacktestConfig(initial_capital=CAPITAL, **settings)
    return simulate(validate_signals(signals, bars), bars, config)


@pytest.mark.parametrize(("slippage_bps", "commission"), [(10.0, 0.001), (25.0, 0.0005)])
def test_one_round_trip_costs_twice_slippage_plus_commission(slippage_bps, commission):
    bars = {"X": make_bars([100.0] * 6)}
    costs = CostModel(slippage_bps=slippage_bps, commission=commission)
    result = run(make_signals(bars["X"], "X", [1, 1, 0, 0, 0, 0]), bars, costs=costs)

    notional = CAPITAL  # one symbol, a full position, the price never moves
    expected = 2 * (slippage_bps / 10_000 + commission) * notional
    assert list(result.trades["side"]) == ["buy", "sell"]
    assert result.trades["cost"].sum() == pytest.approx(expected, rel=1e-12)
    assert result.equity["equity"].iloc[-1] == pytest.approx(CAPITAL - expected, rel=1e-12)
    assert result.equity["costs"].iloc[-1] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("fill", "buy_price", "sell_price"),
                         [("next_open", 11.0, 13.0), ("next_close", 11.5, 13.5)])
def test_a_signal_fills_at_the_next_bar_never_its_own(fill, buy_price, sell_price):
    opens = [10.0, 11.0, 12.0, 13.0, 14.0]
    bars = {"X": make_bars(opens, [price + 0.5 for price in opens])}
    signals = make_signals(bars["X"], "X", [1, 0, 0, 0, 0])
    signals.loc[2, "position"] = 0.0
    signals.loc[1, "position"] = 1.0  # long decided at bars 0-1, flat decided at bar 2
    result = run(signals, bars, fill=fill, costs=CostModel(0.0, 0.0))

    stamps = bars["X"]["timestamp"]
    assert list(result.trades["timestamp"]) == [stamps[1], stamps[3]]
    assert list(result.trades["price"]) == [buy_price, sell_price]
    shares = CAPITAL / buy_price  # sized on the equity at the signal's close
    assert result.equity["equity"].iloc[-1] == pytest.approx(
        CAPITAL + shares * (sell_price - buy_price)
    )


def test_fills_on_real_bars_happen_one_bar_after_each_signal_change(sample_bars):
    bars = {"AAPL": sample_bars["AAPL"].iloc[:400]}
    rng = np.random.default_rng(7)
    positions = np.repeat(rng.choice([-1.0, 0.0, 0.5, 1.0], size=40), 10)
    result = run(make_signals(bars["AAPL"], "AAPL", positions), bars)

    stamps, opens = bars["AAPL"]["timestamp"], bars["AAPL"]["open"]
    changed = np.flatnonzero(np.diff(np.concatenate([[0.0], positions])) != 0)
    changed = changed[changed < len(positions) - 1]  # the last bar's signal has no next bar
    assert list(result.trades["timestamp"]) == list(stamps[changed + 1])
    assert np.array_equal(result.trades["price"].to_numpy(), opens[changed + 1].to_numpy())


def test_per_symbol_and_gross_limits_cap_positions():
    bars = {symbol: make_bars([100.0] * 5) for symbol in ("A", "B")}
    signals = pd.concat([make_signals(bars[s], s, [1.0] * 5) for s in ("A", "B")])
    signals = signals.sort_values("timestamp", kind="stable")

    free = CostModel(0.0, 0.0)  # so equity stays at the capital and fractions are exact
    capped = run(signals, bars, symbol_weight=1.0, risk=RiskLimits(0.3, 5.0, None), costs=free)
    assert capped.holdings.iloc[-1].tolist() == pytest.approx([0.3, 0.3], rel=1e-12)
    gross = run(signals, bars, symbol_weight=1.0, risk=RiskLimits(1.0, 1.5, None), costs=free)
    assert gross.holdings.iloc[-1].tolist() == pytest.approx([0.75, 0.75], rel=1e-12)
    assert gross.equity["gross_exposure"].max() <= 1.5 + 1e-9


def test_daily_loss_stop_flattens_and_skips_the_rest_of_the_day_on_daily_bars():
    prices = [100.0, 100.0, 100.0, 90.0, 90.0, 90.0, 90.0]
    bars = {"X": make_bars(prices)}
    result = run(make_signals(bars["X"], "X", [1.0] * 7), bars, risk=RiskLimits(1.0, 1.0, 0.05))

    stamps = bars["X"]["timestamp"]
    assert result.stops == [stamps[3]]  # a 10 % fall at bar 3's close
    trades = result.trades
    assert list(zip(trades["timestamp"], trades["side"], trades["reason"], strict=True)) == [
        (stamps[1], "buy", "signal"),
        (stamps[4], "sell", "stop"),  # flattened at the next open; bar 3's signal ignored
        (stamps[5], "buy", "signal"),  # bar 4 is a new day: its signal trades again
    ]


def test_daily_loss_stop_holds_until_the_day_ends_on_hourly_bars():
    prices = [100.0, 100.0, 100.0, 90.0] + [90.0] * 10  # 14 hourly bars from 14:00: 10 on day one
    bars = {"X": make_bars(prices, start="2020-01-06 14:00", freq="h")}
    result = run(make_signals(bars["X"], "X", [1.0] * 14), bars, risk=RiskLimits(1.0, 1.0, 0.05))

    stamps = bars["X"]["timestamp"]
    assert stamps[9].day == 6 and stamps[10].day == 7
    assert list(result.trades["timestamp"]) == [stamps[1], stamps[4], stamps[11]]
    assert list(result.trades["reason"]) == ["signal", "stop", "signal"]


def test_a_symbol_whose_bars_stop_is_closed_at_its_last_close():
    bars = {"A": make_bars([100.0] * 10), "B": make_bars([50.0, 51.0, 52.0, 53.0, 54.0])}
    signals = pd.concat([make_signals(bars["A"], "A", [1.0] * 10),
                         make_signals(bars["B"], "B", [1.0] * 5)])
    result = run(signals.sort_values("timestamp", kind="stable"), bars)

    closing = result.trades[result.trades["symbol"] == "B"].iloc[-1]
    assert (closing["timestamp"], closing["side"], closing["price"], closing["reason"]) == (
        bars["B"]["timestamp"][4], "sell", 54.0, "delisted"
    )
    assert result.holdings["B"].iloc[5:].eq(0.0).all()
    assert result.holdings["A"].iloc[-1] > 0


def test_a_universe_end_date_delists_and_later_signals_are_refused():
    bars = {"A": make_bars([100.0] * 10), "B": make_bars(np.linspace(50.0, 59.0, 10))}
    end = bars["B"]["timestamp"][4].date()
    cut = truncate_at_end_dates(bars, {"B": end})
    signals = pd.concat([make_signals(bars["A"], "A", [1.0] * 10),
                         make_signals(bars["B"], "B", [1.0] * 5)])
    result = run(signals.sort_values("timestamp", kind="stable"), cut)
    assert result.trades.iloc[-1][["symbol", "price", "reason"]].tolist() == ["B", 54.0, "delisted"]

    late = pd.concat([signals, make_signals(bars["B"], "B", [1.0] * 7).iloc[[6]]])
    with pytest.raises(BarDataError, match=r"row 12 \(B 2020-01-12.*no B bar at this time"):
        validate_signals(late.sort_values("timestamp", kind="stable", ignore_index=True), cut)


def test_a_signal_that_peeks_one_bar_ahead_beats_the_same_signal_lagged(sample_bars):
    bars = {"AAPL": sample_bars["AAPL"]}
    returns = bars["AAPL"]["close"].pct_change().fillna(0.0).to_numpy()
    peeking = np.sign(np.append(returns[1:], 0.0))  # knows bar t+1's close at bar t
    lagged = np.sign(returns)  # the same rule on what is known at bar t

    def sharpe(positions: np.ndarray) -> float:
        equity = run(make_signals(bars["AAPL"], "AAPL", positions), bars).equity["return"]
        return float(equity.mean() / equity.std() * np.sqrt(252))

    assert sharpe(peeking) > 3.0
    assert sharpe(peeking) > sharpe(lagged) + 3.0


@pytest.mark.parametrize(("fill", "calendar"), [("next_open", "XNYS"), ("next_close", "XNYS"),
                                                ("next_open", "24/7")])
def test_fills_come_no_earlier_than_the_next_bar_after_the_signal_was_known(fill, calendar):
    from marketdata.sessions import with_known_at

    bars = make_bars([10.0, 11.0, 12.0, 11.0, 10.0, 12.0, 13.0, 12.0])
    bars = {"X": with_known_at(bars, "1d", calendar)}
    result = run(make_signals(bars["X"], "X", [1, 0, 1, -1, 0, 1, 0, 0]), bars, fill=fill)
    trades = result.trades[result.trades["reason"] == "signal"]
    assert len(trades) >= 4
    assert (trades["filled_at"] >= trades["decided_at"]).all()
    ends = bars["X"].set_index("timestamp")["known_at"]
    opens = bars["X"]["timestamp"]
    for trade in trades.itertuples():
        assert trade.decided_at in set(ends)  # a bar's end...
        next_bar = opens[opens > ends[ends == trade.decided_at].index[0]].iloc[0]
        expected = next_bar if fill == "next_open" else ends[next_bar]
        assert trade.filled_at == expected  # ...and the next bar's open (or end)
