"""Performance metrics, small and explicit: each is a few lines of numpy over simple returns.

Conventions (those of empyrical, which the tests use as an oracle): returns are per bar and
simple; annualising uses ``periods_per_year``; volatility is the sample standard deviation
(ddof 1); the risk-free rate is 0; max drawdown is negative (-0.25 means a 25 % fall).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from backtest.simulator import BacktestResult

TRADING_DAYS = 252


def periods_per_year(timestamps: pd.DatetimeIndex | pd.Series) -> float:
    """Bars per year: bars per calendar day x trading days (365 when weekends trade, as crypto)."""
    stamps = pd.DatetimeIndex(timestamps)
    days = stamps.normalize()
    bars_per_day = float(pd.Series(days).value_counts().median())
    trades_weekends = bool((days.dayofweek >= 5).any())
    return bars_per_day * (365 if trades_weekends else TRADING_DAYS)


def total_return(returns: np.ndarray) -> float:
    return float(np.prod(1.0 + returns) - 1.0)


def annual_return(returns: np.ndarray, periods: float) -> float:
    """Compound annual growth rate."""
    years = len(returns) / periods
    return float((1.0 + total_return(returns)) ** (1.0 / years) - 1.0)


def annual_volatility(returns: np.ndarray, periods: float) -> float:
    return float(np.std(returns, ddof=1) * math.sqrt(periods))


def sharpe_ratio(returns: np.ndarray, periods: float) -> float:
    spread = np.std(returns, ddof=1)
    return float(np.mean(returns) / spread * math.sqrt(periods)) if spread > 0 else math.nan


def sortino_ratio(returns: np.ndarray, periods: float) -> float:
    """Mean return over downside deviation (root mean square of the negative part), annualised."""
    downside = math.sqrt(np.mean(np.minimum(returns, 0.0) ** 2))
    return float(np.mean(returns) / downside * math.sqrt(periods)) if downside > 0 else math.nan


def drawdown(returns: np.ndarray) -> np.ndarray:
    """Fall of wealth below its running peak after each bar (0 at a new high, negative below)."""
    wealth = np.cumprod(1.0 + returns)
    peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    return wealth / peak - 1.0


def max_drawdown(returns: np.ndarray) -> float:
    return float(min(drawdown(returns).min(), 0.0))


def max_drawdown_duration(returns: np.ndarray) -> int:
    """The longest run of bars spent below a previous peak."""
    longest = current = 0
    for below in drawdown(returns) < 0:
        current = current + 1 if below else 0
        longest = max(longest, current)
    return longest


def calmar_ratio(returns: np.ndarray, periods: float) -> float:
    deepest = max_drawdown(returns)
    return annual_return(returns, periods) / -deepest if deepest < 0 else math.nan


def win_rate(returns: np.ndarray) -> float:
    """Share of bars with a gain among bars that gained or lost something."""
    moved = np.count_nonzero(returns)
    return float(np.count_nonzero(returns > 0) / moved) if moved else math.nan


def profit_factor(returns: np.ndarray) -> float:
    """Sum of gains over the sum of losses."""
    losses = -returns[returns < 0].sum()
    return float(returns[returns > 0].sum() / losses) if losses > 0 else math.nan


def return_metrics(returns: np.ndarray, periods: float) -> dict[str, float]:
    """Every return-based metric of one series."""
    returns = np.asarray(returns, dtype=np.float64)
    return {
        "total_return": total_return(returns),
        "annual_return": annual_return(returns, periods),
        "annual_volatility": annual_volatility(returns, periods),
        "sharpe": sharpe_ratio(returns, periods),
        "sortino": sortino_ratio(returns, periods),
        "max_drawdown": max_drawdown(returns),
        "max_drawdown_bars": max_drawdown_duration(returns),
        "calmar": calmar_ratio(returns, periods),
        "win_rate": win_rate(returns),
        "profit_factor": profit_factor(returns),
    }


def summarize(result: BacktestResult, periods: float | None = None) -> dict:
    """Portfolio, per-symbol and (when signals carried a fold) per-fold metrics of one run."""
    equity = result.equity
    periods = periods or periods_per_year(equity["timestamp"])
    capital = result.config.initial_capital
    portfolio = _trading_metrics(
        equity["return"].to_numpy(), equity["traded"].to_numpy(), equity["equity"].to_numpy(),
        result.trades["cost"].to_numpy(), equity["gross_exposure"].to_numpy(), periods, capital,
    )
    portfolio["daily_loss_stops"] = len(result.stops)
    previous_equity = np.concatenate([[capital], equity["equity"].to_numpy()[:-1]])
    per_symbol = {}
    for symbol in result.symbol_pnl.columns:
        trades = result.trades[result.trades["symbol"] == symbol]
        notional = (trades["quantity"] * trades["price"]).groupby(trades["timestamp"]).sum()
        traded = notional.reindex(equity["timestamp"], fill_value=0.0).to_numpy(np.float64)
        per_symbol[symbol] = _trading_metrics(
            result.symbol_pnl[symbol].to_numpy() / previous_equity, traded,
            equity["equity"].to_numpy(), trades["cost"].to_numpy(),
            np.abs(result.holdings[symbol].to_numpy()), periods, capital,
        )
    summary = {"periods_per_year": periods, "portfolio": portfolio, "symbols": per_symbol}
    if "fold" in equity.columns:
        summary["folds"] = {
            str(fold): return_metrics(rows["return"].to_numpy(), periods)
            for fold, rows in equity.dropna(subset=["fold"]).groupby("fold")
        }
    return summary


def _trading_metrics(
    returns: np.ndarray,
    traded: np.ndarray,
    equity: np.ndarray,
    costs: np.ndarray,
    exposure: np.ndarray,
    periods: float,
    capital: float,
) -> dict[str, float]:
    years = len(returns) / periods
    metrics = return_metrics(returns, periods)
    metrics["turnover"] = float(traded.sum() / equity.mean() / years)  # one-way, per year
    metrics["trades"] = len(costs)
    metrics["total_costs"] = float(costs.sum())
    metrics["costs_fraction"] = float(costs.sum() / capital)  # of the starting capital
    metrics["exposure"] = float(exposure.mean())  # mean |position value| / equity
    metrics["time_in_market"] = float(np.mean(exposure > 0))
    return metrics
