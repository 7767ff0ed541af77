"""Our metrics agree with empyrical (an independent implementation) on real return series."""

from __future__ import annotations

import empyrical
import numpy as np
import pandas as pd
import pytest

from backtest import metrics
from backtest.signals import validate_signals
from backtest.simulator import BacktestConfig, simulate
from marketdata.csv_import import read_bars_csv
from tests.backtest.helpers import make_signals


@pytest.fixture(scope="session")
def real_returns(sample_bars) -> dict[str, np.ndarray]:
    """Daily close-to-close returns of the sample's stocks, and of a long-short backtest on them."""
    series = {s: b["close"].pct_change().dropna().to_numpy() for s, b in sample_bars.items()}
    bars = {"GOOG": sample_bars["GOOG"]}
    trend = np.sign(bars["GOOG"]["close"].pct_change(50).fillna(0.0).to_numpy())
    signals = validate_signals(make_signals(bars["GOOG"], "GOOG", trend), bars)
    series["backtest"] = simulate(signals, bars, BacktestConfig()).equity["return"].to_numpy()
    return series


ORACLES = [
    (lambda r: metrics.total_return(r), lambda r: empyrical.cum_returns_final(r)),
    (lambda r: metrics.annual_return(r, 252), lambda r: empyrical.annual_return(r)),
    (lambda r: metrics.annual_volatility(r, 252), lambda r: empyrical.annual_volatility(r)),
    (lambda r: metrics.sharpe_ratio(r, 252), lambda r: empyrical.sharpe_ratio(r)),
    (lambda r: metrics.sortino_ratio(r, 252), lambda r: empyrical.sortino_ratio(r)),
    (lambda r: metrics.max_drawdown(r), lambda r: empyrical.max_drawdown(r)),
    (lambda r: metrics.calmar_ratio(r, 252), lambda r: empyrical.calmar_ratio(r)),
]


NAMES = ["total", "annual", "volatility", "sharpe", "sortino", "max_drawdown", "calmar"]


@pytest.mark.parametrize(("ours", "oracle"), ORACLES, ids=NAMES)
@pytest.mark.parametrize("series", ["AAPL", "GOOG", "INTC", "SPY", "backtest"])
def test_metric_matches_empyrical_on_real_returns(real_returns, series, ours, oracle):
    returns = real_returns[series]
    assert ours(returns) == pytest.approx(float(oracle(returns)), rel=1e-9)


def test_drawdown_duration_win_rate_and_profit_factor_by_hand():
    returns = np.array([0.10, -0.05, -0.05, 0.0, 0.20, -0.10, 0.05])
    # wealth: 1.1, 1.045, .99275, .99275, 1.1913, 1.07217, 1.12578 -> below the peak for 3, then 2
    assert metrics.max_drawdown_duration(returns) == 3
    assert metrics.win_rate(returns) == pytest.approx(3 / 6)  # the 0.0 bar neither wins nor loses
    assert metrics.profit_factor(returns) == pytest.approx(0.35 / 0.20)
    assert metrics.drawdown(returns)[2] == pytest.approx(0.99275 / 1.1 - 1)


def test_periods_per_year_from_bar_spacing(sample_bars, sample_dir):
    assert metrics.periods_per_year(sample_bars["AAPL"]["timestamp"]) == 252
    minutes = read_bars_csv(sample_dir / "sp500_1min_2019-11.csv.gz")["timestamp"]
    assert metrics.periods_per_year(minutes) == pytest.approx(390 * 252, rel=0.01)  # 390-393 a day
    crypto = pd.date_range("2021-01-01", periods=30, freq="D", tz="UTC")
    assert metrics.periods_per_year(crypto) == 365


def test_summary_has_portfolio_symbol_and_fold_metrics(sample_bars):
    bars = {s: sample_bars[s].iloc[-300:] for s in ("AAPL", "GOOG")}
    frames = [make_signals(bars[s], s, np.tile([1.0] * 20 + [0.0] * 10, 10)) for s in bars]
    signals = pd.concat(frames).sort_values("timestamp", kind="stable", ignore_index=True)
    signals["fold"] = np.where(signals["timestamp"] < bars["AAPL"]["timestamp"].iloc[150], 0, 1)
    result = simulate(validate_signals(signals, bars), bars, BacktestConfig())
    summary = metrics.summarize(result)

    portfolio, per_symbol = summary["portfolio"], summary["symbols"]
    assert portfolio["trades"] == len(result.trades) == 2 * 20  # 10 entries and 10 exits each
    assert portfolio["total_costs"] == pytest.approx(
        sum(per_symbol[s]["total_costs"] for s in bars)
    )
    assert portfolio["exposure"] == pytest.approx(
        sum(per_symbol[s]["exposure"] for s in bars), rel=1e-9
    )
    # Symbol contributions add up to the portfolio's return at every bar.
    contributions = sum(result.symbol_pnl[s] for s in bars).to_numpy()
    previous = np.concatenate([[1_000_000.0], result.equity["equity"].to_numpy()[:-1]])
    assert np.allclose(contributions / previous, result.equity["return"])
    folds = summary["folds"]
    assert set(folds) == {"0", "1"}
    growth = [1 + folds[f]["total_return"] for f in ("0", "1")]
    assert np.prod(growth) == pytest.approx(1 + portfolio["total_return"])
