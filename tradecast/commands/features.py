"""`tradecast features`: list the catalogue, compute features, check for look-ahead."""

from pathlib import Path
from typing import Annotated

import typer

from tradecast.options import HomeOption, UnusedHomeOption

app = typer.Typer(
    help="The feature catalogue: list it, compute it, check it for look-ahead.",
    no_args_is_help=True,
)


@app.command("list")
def start_list(home: UnusedHomeOption = None) -> None:
    """Every feature column: name, group, warm-up bars and definition."""
    from rich.console import Console
    from rich.table import Table

    from features.engine import FEATURE_SPECS, MAX_WARMUP

    table = Table("name", "group", "warm-up", "definition", title=f"{len(FEATURE_SPECS)} features")
    for spec in FEATURE_SPECS.values():
        table.add_row(spec.name, spec.group, str(spec.warmup), spec.definition)
    console = Console(width=160)
    console.print(table)
    console.print(f"longest warm-up: {MAX_WARMUP} bars; context columns are NaN where missing")


ContextTimeframe = Annotated[
    str, typer.Option(help="Bar length of stored context symbols without @TIMEFRAME.")
]


@app.command("compute")
def start_compute(
    bars: Annotated[str, typer.Option(help="A CSV file of bars or a stored symbol.")],
    out: Annotated[Path, typer.Option(help="Output file: .parquet or .csv.")],
    mode: Annotated[str, typer.Option(help="batch (whole history) or stream (bar by bar).")] = (
        "batch"
    ),
    context: Annotated[
        list[str] | None,
        typer.Option(help="Market context NAME=CSV_OR_SYMBOL[@TIMEFRAME] (repeatable): SPY, "
                     "QQQ, VIX, SECTOR; joined on known-at times, any timeframe."),
    ] = None,
    timeframe: Annotated[str, typer.Option(help="Bar length of stored symbols.")] = "1d",
    context_timeframe: ContextTimeframe = "1d",
    home: HomeOption = None,
) -> None:
    """Features of one series: a timestamp column and one column per feature."""
    from contract.errors import TradecastError
    from contract.home import resolve_home
    from features.engine import compute_features
    from features.replay import stream_features
    from marketdata.series import read_context, read_series

    if mode not in ("batch", "stream"):
        raise TradecastError(f"--mode {mode!r}: use batch or stream")
    if out.suffix not in (".parquet", ".csv"):
        raise TradecastError(f"--out {out}: the file must end in .parquet or .csv")
    bars_dir = resolve_home(home).bars_dir
    series = read_series(bars, bars_dir, timeframe)
    joined = read_context(context or [], bars_dir, context_timeframe)
    compute = compute_features if mode == "batch" else stream_features
    frame = compute(series, joined)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    typer.echo(f"{len(frame)} rows x {frame.shape[1] - 1} features ({mode}) -> {out}")


@app.command("check-lookahead")
def start_check_lookahead(
    bars: Annotated[str, typer.Option(help="A CSV file of bars or a stored symbol.")],
    cuts: Annotated[int, typer.Option(help="Cut points to test, spread over the series.")] = 5,
    context: Annotated[
        list[str] | None,
        typer.Option(help="Market context NAME=CSV_OR_SYMBOL[@TIMEFRAME] (repeatable), e.g. "
                     "SPY=SPY or SPY=SPY@1h; any timeframe mix is checked."),
    ] = None,
    timeframe: Annotated[str, typer.Option(help="Bar length of stored symbols.")] = "1d",
    context_timeframe: ContextTimeframe = "1d",
    seed: Annotated[int, typer.Option(help="Seed of the random perturbations.")] = 0,
    home: HomeOption = None,
) -> None:
    """Prove no feature reads later bars (truncation and perturbation tests); exit 1 on a leak."""
    from contract.home import resolve_home
    from features.lookahead import check_lookahead
    from marketdata.series import read_context, read_series

    bars_dir = resolve_home(home).bars_dir
    series = read_series(bars, bars_dir, timeframe)
    joined = read_context(context or [], bars_dir, context_timeframe)
    report = check_lookahead(series, joined, cuts=cuts, seed=seed, series=bars)
    typer.echo(report.format())
    if not report.passed:
        raise typer.Exit(1)
