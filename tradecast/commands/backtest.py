"""`tradecast backtest`: trade a signal file, or compare walk-forward models, net of costs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tradecast.options import HomeOption


def start_backtest(
    out: Annotated[Path, typer.Option("--out", help="Folder for metrics.json, CSVs and plots.")],
    signals: Annotated[
        Path | None,
        typer.Option("--signals", help="Signal file (CSV/Parquet: timestamp, symbol, position)."),
    ] = None,
    bars: Annotated[
        str | None,
        typer.Option("--bars", help="Comma-separated symbols (bar store) and/or CSV files."),
    ] = None,
    walk_forward: Annotated[
        bool, typer.Option("--walk-forward", help="Backtest training's walk-forward predictions.")
    ] = False,
    variant: Annotated[
        str, typer.Option("--variant", help="Model whose report gets the plots, or 'combined' "
                     "(the mean of every variant's walk-forward predictions).")
    ] = "hybrid",
    predictions: Annotated[
        Path | None,
        typer.Option("--predictions", help="oos_predictions.parquet (default: the newest run)."),
    ] = None,
    slippage_bps: Annotated[float, typer.Option(help="Slippage per fill, basis points.")] = 10.0,
    commission: Annotated[float, typer.Option(help="Commission, fraction of notional.")] = 0.001,
    max_position: Annotated[float, typer.Option(help="Cap on |position| per symbol.")] = 1.0,
    max_gross: Annotated[float, typer.Option(help="Cap on gross exposure / equity.")] = 1.0,
    daily_loss_stop: Annotated[
        float, typer.Option(help="Day's loss (fraction) that flattens until the day ends; 0: off.")
    ] = 0.05,
    fill: Annotated[str, typer.Option(help="Fill price: next_open or next_close.")] = "next_open",
    min_hold: Annotated[
        int | None, typer.Option(help="Signal rule: minimum holding time, bars [default: rule's].")
    ] = None,
    no_trade_band: Annotated[
        float | None, typer.Option(help="Signal rule: no-trade band [default: rule's].")
    ] = None,
    universe: Annotated[
        str | None, typer.Option(help="Universe whose end dates close delisted symbols.")
    ] = None,
    timeframe: Annotated[str, typer.Option(help="Bar timeframe in the store.")] = "1d",
    home: HomeOption = None,
) -> None:
    """Backtest a signal file, or (--walk-forward) every model's out-of-sample predictions."""
    from backtest.costs import CostModel
    from backtest.report import fold_table
    from backtest.risk import RiskLimits
    from backtest.runner import compare_runs, truncate_at_end_dates
    from backtest.signals import load_bars, read_signals
    from backtest.simulator import BacktestConfig
    from backtest.skill_report import walk_forward_report
    from backtest.walk_forward import find_walk_forward_runs, load_walk_forward, read_predictions
    from contract.errors import TradecastError
    from contract.home import resolve_home
    from marketdata.universe import load_universe
    from policy.signal_rule import SignalRuleConfig

    if walk_forward == (signals is not None):
        raise TradecastError("give either --signals FILE or --walk-forward")
    resolved = resolve_home(home)
    costs = CostModel(slippage_bps=slippage_bps, commission=commission)
    config = BacktestConfig(
        fill=fill,
        costs=costs,
        risk=RiskLimits(max_position, max_gross, daily_loss_stop or None),
    )
    runs = {}
    if walk_forward:
        if predictions is not None:
            frame = read_predictions(predictions)
        else:
            frame = load_walk_forward(resolved.checkpoints_dir, variant)
            runs = find_walk_forward_runs(resolved.checkpoints_dir)
        symbols = sorted(frame["symbol"].unique())
    else:
        frame = read_signals(signals)
        symbols = sorted(frame["symbol"].dropna().astype(str).str.upper().unique())
    bar_frames = load_bars(symbols, bars, resolved.bars_dir, timeframe)
    if universe:
        ends = {entry.symbol: entry.end for entry in load_universe(universe).entries}
        bar_frames = truncate_at_end_dates(bar_frames, ends)

    if walk_forward:
        chosen = {"min_hold_bars": min_hold, "no_trade_band": no_trade_band}
        rule = SignalRuleConfig(
            round_trip_cost=costs.round_trip,
            **{name: value for name, value in chosen.items() if value is not None},
        )
        comparison, page = walk_forward_report(frame, bar_frames, out, variant, config=config,
                                               rule=rule, runs=runs, progress=True)
        typer.echo(f"Walk-forward report: {page}")
    else:
        name = signals.name.split(".")[0]
        comparison = compare_runs({name: frame}, bar_frames, out, name, config=config,
                                  progress=True)

    typer.echo(f"Backtest, net of costs (report in {comparison.out_dir}):")
    typer.echo(comparison.table.to_string(float_format="{:.3g}".format))
    folds = fold_table(comparison.summaries[comparison.main])
    if folds is not None:
        typer.echo(f"\n{comparison.main} by walk-forward fold:")
        typer.echo(folds.to_string(float_format="{:.3g}".format))

