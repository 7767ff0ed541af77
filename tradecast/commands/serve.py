"""`tradecast serve` and `tradecast signals`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from tradecast.options import Engine, HomeOption


def start_serve(
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on.")] = 3000,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="API worker processes (default: TRADECAST_WORKERS, "
                     "else one per core); the live state has one process of its own."),
    ] = None,
    allow_untrained: Annotated[
        bool,
        typer.Option("--allow-untrained", help="Serve exports of untrained (random) weights "
                     "too (sets TRADECAST_ALLOW_UNTRAINED=1); refused by default."),
    ] = False,
    home: HomeOption = None,
) -> None:
    """Serve the exported models over HTTP (BentoML); Ctrl-C stops it and saves live state."""
    import os

    from contract.artifacts import ALLOW_UNTRAINED_ENV
    from contract.home import resolve_home
    from serving.launch import exec_server
    from serving.registry import refuse_untrained

    if allow_untrained:  # the service's processes inherit it
        os.environ[ALLOW_UNTRAINED_ENV] = "1"
    refuse_untrained(resolve_home(home).exported_dir)
    exec_server(home, host, port, workers)


def start_signals(
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Comma-separated symbols in the store.")
    ] = None,
    universe: Annotated[
        str | None, typer.Option("--universe", help="A universe in configs/universes/.")
    ] = None,
    start: Annotated[
        datetime | None, typer.Option("--start", help="First bar to signal (default: all).")
    ] = None,
    variant: Annotated[str, typer.Option("--variant", help="A variant, or 'combined' (every "
                                            "loaded variant, weighted).")] = "hybrid",
    engine: Annotated[
        Engine, typer.Option("--engine", help="local: this process; ray: Ray Data actors "
                             "(RAY_ADDRESS's cluster, else a local one); --out is then a folder.")
    ] = Engine.local,
    symbols_per_task: Annotated[
        int | None, typer.Option("--symbols-per-task", min=1,
                                 help="Ray: symbols per actor call (default 16).")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Signals for every bar of many symbols, without HTTP (same models and signal rule)."""
    if (symbols is None) == (universe is None):
        raise typer.BadParameter("give exactly one of --symbols and --universe")
    names = [s.strip().upper() for s in symbols.split(",") if s.strip()] if symbols else None
    if engine is Engine.ray:
        from scaleout.signals import generate_signals_ray

        result = generate_signals_ray(home, out, symbols=names, universe=universe, start=start,
                                      variant=variant, symbols_per_task=symbols_per_task)
        typer.echo(f"{result.rows} signals for {result.symbols} symbols -> {out}/")
        return
    from serving.batch import generate_signals

    frame = generate_signals(home, out, symbols=names, universe=universe, start=start,
                             variant=variant)
    typer.echo(f"{len(frame)} signals for {frame['symbol'].nunique()} symbols -> {out}")
