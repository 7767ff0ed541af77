"""`tradecast bench`: each benchmark is a thin command over a `benchmarks/` module."""

import os
from pathlib import Path
from typing import Annotated

import typer

from contract.artifacts import ALLOW_UNTRAINED_ENV
from tradecast.options import HomeOption, UnusedHomeOption

app = typer.Typer(
    help="Benchmarks that print numbers and write reports (latency, HTTP, load, features).",
    no_args_is_help=True,
)


@app.callback()
def allow_untrained() -> None:
    """Speed does not depend on the weights: benchmarks may time and serve untrained exports
    (random weights, `export --untrained`), so they allow them here, said out loud."""
    os.environ.setdefault(ALLOW_UNTRAINED_ENV, "1")

OutOption = Annotated[Path, typer.Option("--out", help="Folder for report.md, results.json, PNGs.")]


@app.command("all")
def start_all(
    out: OutOption,
    quick: Annotated[bool, typer.Option("--quick", help="Small sizes: a smoke run.")] = False,
    parts: Annotated[
        str, typer.Option("--parts", help="Comma-separated: latency,features,http,attention,load.")
    ] = "latency,features,http,attention,load",
    threads: Annotated[
        int | None, typer.Option("--threads", help="Latency part: torch and onnxruntime threads.")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Every benchmark, one report: each figure next to its target, met or missed."""
    from benchmarks import suite

    chosen = tuple(p.strip() for p in parts.split(",") if p.strip())
    suite.run(out, home, quick=quick, parts=chosen, latency_threads=threads)
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
    scenario: Annotated[
        str, typer.Option("--scenario", help="mixed (analysts, feeds, dashboards) or predict "
                          "(closed loop of predicts for one variant).")
    ] = "mixed",
    variant: Annotated[str, typer.Option("--variant", help="predict scenario's variant.")]
    = "hybrid",
    home: HomeOption = None,
) -> None:
    """Locust users against a server started on 127.0.0.1; RPS against the model's capacity
    measured in the same run, p50/p95/p99 per endpoint and variant, failures, memory."""
    from benchmarks import load, suite

    if scenario not in load.SCENARIOS:
        raise typer.BadParameter(f"--scenario: one of {', '.join(load.SCENARIOS)}")
    defaults = load.SOAK_DEFAULTS if soak else load.LoadConfig()
    config = load.LoadConfig(
        users=users or defaults.users, duration_s=duration or defaults.duration_s, soak=soak,
        scenario=scenario, variant=variant,
    )
    bare = load.bare_models(home)
    summary = {**load.run(home, out, config), "bare": bare[variant], "bare_by_variant": bare}
    meta = suite.meta(home, quick=False, config=config, duration_s=summary["wall_s"])
    suite.write_outputs({"load": {config.prefix: summary}, "meta": meta}, out)
    typer.echo(f"report: {out / 'report.md'}")


@app.command("latency")
def start_latency(
    out: Annotated[Path | None, typer.Option("--out", help="Write the results as JSON.")] = None,
    variants: Annotated[
        str, typer.Option("--variants", help="Comma-separated variants.")
    ] = "simplex,hybrid,ensemble,full",
    batches: Annotated[str, typer.Option("--batches", help="Comma-separated batches.")] = "1,32",
    runs: Annotated[int, typer.Option("--runs", help="Most timed calls per cell.")] = 200,
    budget: Annotated[
        float, typer.Option("--budget", help="Seconds per variant and batch (after 5 calls).")
    ] = 4.0,
    threads: Annotated[int, typer.Option("--threads", help="torch and onnxruntime threads.")] = 2,
    home: Annotated[
        Path | None,
        typer.Option("--home", envvar="TRADECAST_HOME",
                     help="Time this home's exported models (when it has a manifest) instead "
                     "of fresh untrained exports."),
    ] = None,
) -> None:
    """PyTorch eager vs onnxruntime per variant, interleaved, each latency against its floor."""
    from benchmarks import latency
    from contract.artifacts import MANIFEST_FILE
    from contract.home import resolve_home

    exported = resolve_home(home).exported_dir if home is not None else None
    latency.run(
        out,
        variants=tuple(v.strip() for v in variants.split(",") if v.strip()),
        batches=tuple(int(b) for b in batches.split(",")),
        runs=runs,
        threads=threads,
        budget_s=budget,
        exported_dir=exported if exported and (exported / MANIFEST_FILE).exists() else None,
    )


@app.command("threads")
def start_threads(
    variants: Annotated[
        str | None, typer.Option("--variants", help="Comma-separated (default: all exported).")
    ] = None,
    budget: Annotated[float, typer.Option("--budget", help="Seconds per variant and batch.")]
    = 3.0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Measure and print, write nothing.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """1 vs 2 onnxruntime threads per exported variant; writes exported_models/threads.json."""
    from benchmarks import threads
    from contract.home import resolve_home

    chosen = tuple(v.strip() for v in variants.split(",") if v.strip()) if variants else None
    result = threads.run(resolve_home(home).exported_dir, chosen, budget_s=budget,
                         write=not dry_run)
    typer.echo("threads: " + ", ".join(f"{v} {n}" for v, n in result["threads"].items()))


@app.command("features")
def start_features(
    out: Annotated[Path | None, typer.Option("--out", help="Write the numbers to this JSON file.")]
    = None,
    quick: Annotated[bool, typer.Option("--quick", help="Fewer repeats: a smoke run.")] = False,
    home: UnusedHomeOption = None,
) -> None:
    """Feature engine: batch vs TA-Lib and ta, streaming per bar and per symbol, vs recomputing."""
    from benchmarks import features

    features.run(out, quick=quick)
    if out is not None:
        typer.echo(f"results: {out}")


@app.command("scale")
def start_scale(
    out: Annotated[Path | None, typer.Option("--out", help="Write the numbers to this JSON file.")]
    = None,
    cpus: Annotated[int, typer.Option("--cpus", min=1, help="CPUs of the local Ray.")] = 2,
    node_cores: Annotated[int, typer.Option("--node-cores", min=1, help="Cores per node in the "
                                            "estimate.")] = 16,
    home: UnusedHomeOption = None,
) -> None:
    """Batch signals locally vs on Ray (this machine), and an estimate for 5,000 x 20 years."""
    from benchmarks import scale

    scale.run(out, scale.ScaleConfig(cpus=cpus, node_cores=node_cores))
    if out is not None:
        typer.echo(f"results: {out}")
