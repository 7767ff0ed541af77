"""`tradecast data`: import, download, list and check the bars in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tradecast.options import HomeOption

app = typer.Typer(help="Import, download, list and check market bars.", no_args_is_help=True)

TimeframeOption = Annotated[str, typer.Option(help="Bar length: 1min, 5min, 15min, 1h or 1d.")]


@app.command("import")
def start_import(
    paths: Annotated[list[Path], typer.Argument(help="CSV files of bars (.csv or .csv.gz).")],
    symbol: Annotated[
        str | None, typer.Option(help="Store the bars under this symbol (default: file name).")
    ] = None,
    timeframe: TimeframeOption = "1d",
    timezone: Annotated[
        str, typer.Option(help="Time zone of intraday times that carry none.")
    ] = "America/New_York",
    calendar: Annotated[
        str | None, typer.Option(help="Trading calendar dating the bars' ends: XNYS, 24/7... "
                                 "(default: 24/7 for pairs with a slash, else XNYS).")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Import CSV files into the bar store; a bad file changes nothing."""
    from tqdm import tqdm

    from contract.errors import BarDataError
    from contract.home import resolve_home
    from marketdata.csv_import import read_bars_csv, symbol_from_path
    from marketdata.sessions import calendar_for
    from marketdata.store import BarStore

    if symbol and len(paths) > 1:
        raise BarDataError("--symbol names one file's bars; give one PATH or leave --symbol out")
    store = BarStore(resolve_home(home).bars_dir)
    for path in tqdm(paths, desc="importing", unit="file", disable=len(paths) < 2):
        name = (symbol or symbol_from_path(path)).upper()
        own = calendar or calendar_for(name)
        bars = read_bars_csv(path, timezone=timezone, timeframe=timeframe, calendar=own)
        added = store.write(name, timeframe, bars, calendar=own)
        typer.echo(f"{name} {timeframe}: {added} new bars from {path}")


@app.command("import-sample")
def start_import_sample(home: HomeOption = None) -> None:
    """Import the bundled sample (data/sample/): AAPL, GOOG, INTC, SPY, SPX, IXIC, VIX."""
    from contract.home import resolve_home
    from marketdata.sample import import_sample
    from marketdata.store import BarStore

    resolved = resolve_home(home)
    added = import_sample(BarStore(resolved.bars_dir), progress=True)
    for name, count in added.items():
        typer.echo(f"{name}: {count} new bars")
    typer.echo(f"bars stored in {resolved.bars_dir}")


@app.command("fetch")
def start_fetch(
    source: Annotated[str, typer.Option(help="Vendor: alpaca, yfinance or binance.")],
    start: Annotated[str, typer.Option(help="First day (or time, UTC) to fetch.")],
    symbols: Annotated[
        str | None, typer.Option(help="Comma-separated symbols, e.g. AAPL,MSFT or BTC/USDT.")
    ] = None,
    universe: Annotated[
        str | None, typer.Option(help="Fetch every symbol of this universe (configs/universes).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Stop before this day or time (UTC); default: now.")
    ] = None,
    timeframe: TimeframeOption = "1d",
    home: HomeOption = None,
) -> None:
    """Download bars after the last stored one and append them to the store."""
    from contract.errors import BarDataError
    from contract.home import resolve_home
    from marketdata.bars import check_timeframe, parse_utc
    from marketdata.sources import download, make_source
    from marketdata.store import BarStore
    from marketdata.universe import load_universe

    if (symbols is None) == (universe is None):
        raise BarDataError("give either --symbols or --universe")
    names = (
        [name.strip() for name in symbols.split(",") if name.strip()]
        if symbols
        else load_universe(universe).symbols
    )
    store = BarStore(resolve_home(home).bars_dir)
    added = download(
        make_source(source),
        names,
        check_timeframe(timeframe),
        start=parse_utc(start, "--start"),
        end=parse_utc(end, "--end") if end else None,
        store=store,
        progress=True,
    )
    for name, count in added.items():
        typer.echo(f"{name} {timeframe}: {count} new bars from {source}")


@app.command("list")
def start_list(home: HomeOption = None) -> None:
    """List the stored symbols with their bar counts and spans."""
    from rich.console import Console
    from rich.table import Table

    from contract.home import resolve_home
    from marketdata.store import BarStore

    store = BarStore(resolve_home(home).bars_dir)
    summary = store.summary()
    if summary.empty:
        typer.echo(f"no bars in {store.root}; try `tradecast data import-sample`")
        return
    table = Table("symbol", "timeframe", "bars", "first", "last", title=str(store.root))
    for row in summary.itertuples():
        table.add_row(row.symbol, row.timeframe, str(row.bars), str(row.first), str(row.last))
    Console(width=120).print(table)


@app.command("check")
def start_check(
    symbols: Annotated[
        list[str] | None, typer.Argument(help="Symbols to check (default: every stored one).")
    ] = None,
    timeframe: Annotated[
        str | None, typer.Option(help="Only this bar length (default: every stored one).")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Check stored bars against the trading calendar and for bad values; exit 1 on errors."""
    from contract.home import resolve_home
    from marketdata.quality import check_store
    from marketdata.store import BarStore

    reports = check_store(BarStore(resolve_home(home).bars_dir), symbols, timeframe)
    typer.echo("\n\n".join(report.text() for report in reports))
    if not all(report.ok for report in reports):
        raise typer.Exit(1)
