"""`tradecast bench` sub-commands (to be filled in by the issue that owns them)."""

from pathlib import Path
from typing import Annotated

import typer

from tradecast.options import HomeOption

app = typer.Typer(help="bench", no_args_is_help=True)

OutOption = Annotated[Path, typer.Option("--out", help="Folder for report.md, results.json, PNGs.")]


@app.command("all")
def start_all(
    out: OutOption,
    quick: Annotated[bool, typer.Option("--quick", help="Small sizes: a smoke run.")] = False,
    parts: Annotated[
        str, typer.Option("--parts", help="Comma-separated: latency,http,attention,features,load.")
    ] = "latency,http,attention,features,load",
    home: HomeOption = None,
) -> None:
    """Every benchmark, one report: each figure next to its target, met or missed."""
    from benchmarks import suite

    suite.run(out, home, quick=quick, parts=tuple(p.strip() for p in parts.split(",") if p.strip()))
    typer.echo(f"report: {out / 'report.md'}")


@app.command("attention")
def start_attention(out: OutOption, home: HomeOption = None) -> None:
    """Attention of every variant via torch, ONNX and HTTP, checked and drawn as a heat map."""
    from benchmarks import suite

    suite.run(out, home, parts=("attention",))
    typer.echo(f"report: {out / 'report.md'}")


@app.command("load")
def start_load(
    out: OutOption,
    users: Annotated[int | None, typer.Option("--users", help="Concurrent users.")] = None,
    duration: Annotated[int | None, typer.Option("--duration", help="Seconds.")] = None,
    soak: Annotated[
        bool, typer.Option("--soak", help="Long run (default 20 users, 600 s): p99 drift, memory.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Locust users against a server started on 127.0.0.1; RPS, p50/p95/p99, failures."""
    from benchmarks import load, suite

    defaults = load.SOAK_DEFAULTS if soak else load.LoadConfig()
    config = load.LoadConfig(
        users=users or defaults.users, duration_s=duration or defaults.duration_s, soak=soak
    )
    summary = load.run(home, out, config)
    meta = suite.meta(home, quick=False, config=config, duration_s=summary["wall_s"])
    suite.write_outputs({"load": {config.prefix: summary}, "meta": meta}, out)
    typer.echo(f"report: {out / 'report.md'}")
