"""One backtest job: check signals, simulate them and buy-and-hold, summarise, write the folder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from backtest.baselines import buy_and_hold_signals
from backtest.metrics import periods_per_year, summarize
from backtest.report import comparison_table, write_report
from backtest.signals import validate_signals
from backtest.simulator import BacktestConfig, simulate

BUY_AND_HOLD = "buy_and_hold"


@dataclass(frozen=True)
class Comparison:
    table: pd.DataFrame  # one row per run, portfolio metrics net of costs
    summaries: dict[str, dict]  # every run's full metrics (portfolio, symbols, folds)
    out_dir: Path  # where the report was written
    main: str  # the run the plots and trades.csv are about
    returns: dict[str, pd.Series]  # every run's net return per bar, by bar time
    periods_per_year: float  # bars per year of those returns


def compare_runs(
    runs: Mapping[str, pd.DataFrame],
    bars: dict[str, pd.DataFrame],
    out_dir: Path,
    main: str,
    *,
    config: BacktestConfig | None = None,
    progress: bool = False,
) -> Comparison:
    """Backtest every signal frame in ``runs`` plus buy-and-hold over ``main``'s symbols and span.

    Each frame is checked first (errors name the run and the row); all runs share ``config``.
    """
    checked = {name: validate_signals(frame, bars, origin=name) for name, frame in runs.items()}
    checked[BUY_AND_HOLD] = buy_and_hold_signals(checked[main], bars)
    config = config or BacktestConfig()
    results = {name: simulate(frame, bars, config, progress) for name, frame in checked.items()}
    periods = periods_per_year(results[main].equity["timestamp"])
    summaries = {name: summarize(result, periods) for name, result in results.items()}
    write_report(out_dir, results, summaries, main, BUY_AND_HOLD)
    returns = {name: result.equity.set_index("timestamp")["return"]
               for name, result in results.items()}
    return Comparison(comparison_table(summaries), summaries, out_dir, main, returns, periods)


def truncate_at_end_dates(
    bars: dict[str, pd.DataFrame], end_dates: Mapping[str, dt.date | None]
) -> dict[str, pd.DataFrame]:
    """Drop bars after a symbol's last trading day (a universe end date) so it is closed there."""
    cut = {}
    for symbol, frame in bars.items():
        end = end_dates.get(symbol)
        if end is None:
            cut[symbol] = frame
        else:
            next_day = pd.Timestamp(end).tz_localize("UTC") + pd.Timedelta(days=1)
            cut[symbol] = frame[frame["timestamp"] < next_day].reset_index(drop=True)
    return cut
