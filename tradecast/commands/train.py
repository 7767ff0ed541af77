"""`tradecast train`: train model variants, report a run's fold table, compare two runs,
fine-tune a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tradecast.options import Engine, HomeOption

app = typer.Typer(
    help="Train model variants (without a sub-command), report or fine-tune a run.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@app.callback()
def start_train(
    context: typer.Context,
    variant: Annotated[str, typer.Option(help="Model variant to train, or 'all'.")] = "all",
    profile: Annotated[
        str, typer.Option(help="Profile in configs/train/ (quick, standard, full; tiny for tests).")
    ] = "quick",
    walk_forward: Annotated[
        bool, typer.Option("--walk-forward", help="One model per yearly fold, plus baselines.")
    ] = False,
    folds: Annotated[
        str | None, typer.Option(help="Fold scheme: yearly (every symbol) or symbols (validate "
                                 "on held-out symbols: --set holdout_symbols=SPY,INTC).")
    ] = None,
    no_curriculum: Annotated[
        bool, typer.Option("--no-curriculum", help="Train every task at full weight from epoch 1.")
    ] = False,
    resume: Annotated[
        str | None, typer.Option(help="Continue an unfinished run (run id or folder).")
    ] = None,
    set_fields: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config field: name=value (e.g. patience=5)."),
    ] = None,
    engine: Annotated[
        Engine, typer.Option("--engine", help="ray: the walk-forward folds at once, one Ray Tune "
                             "trial each (RAY_ADDRESS's cluster, else a local one).")
    ] = Engine.local,
    home: HomeOption = None,
) -> None:
    """Train `--variant` (or all four) with `--profile`; prints where each run was written."""
    if context.invoked_subcommand is not None:
        return
    from contract.home import resolve_home

    if engine is Engine.ray:
        from scaleout.tune import train_from_cli_ray as train_from_cli
    else:
        from training.runs import train_from_cli

    overrides = dict(_split_assignment(item) for item in set_fields or [])
    if no_curriculum:
        overrides["curriculum.enabled"] = "false"
    if folds:
        overrides["walk_forward.scheme"] = folds
    for run_dir in train_from_cli(resolve_home(home), variant, profile=profile,
                                  walk_forward=walk_forward, resume=resume, overrides=overrides):
        typer.echo(f"run written to {run_dir}")


@app.command("report")
def start_report(
    run: Annotated[str, typer.Argument(help="Run id, <variant>/<run-id> or run folder.")],
    out: Annotated[
        Path | None, typer.Option(help="Folder for the walk-forward page [default: RUN/report].")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Print a run's fold table; for a walk-forward run, write its one-page report too."""
    from rich.console import Console

    from backtest.skill_report import report_run
    from contract.home import resolve_home
    from training.report import fold_tables
    from training.runs import find_run, read_summary

    resolved = resolve_home(home)
    run_dir = find_run(resolved, run)
    summary = read_summary(run_dir)
    console = Console(width=140)
    for table in fold_tables(summary):
        console.print(table)
    for warning in summary.get("leak_warnings", []):
        console.print(f"[bold red]warning: probable leak, not a success:[/] {warning}")
    if summary["mode"] == "walk_forward":
        page = report_run(run_dir, resolved.bars_dir, out or run_dir / "report")
        console.print(f"walk-forward report: {page}")


@app.command("compare")
def start_compare(
    reference: Annotated[Path, typer.Argument(help="Walk-forward run folder to compare with.")],
    candidate: Annotated[Path, typer.Argument(help="Walk-forward run folder of the change.")],
    out: Annotated[Path | None, typer.Option(help="Also write the table (.md) here.")] = None,
    home: HomeOption = None,
) -> None:
    """Two walk-forward runs of one variant on their shared windows: log loss, its paired gap
    with a bootstrap interval, balanced accuracy, rank IC; whether the candidate is no worse."""
    from backtest.compare_runs import compare_runs, comparison_table
    from contract.home import resolve_home

    table = comparison_table(compare_runs(reference, candidate, resolve_home(home).bars_dir))
    typer.echo(table)
    if out is not None:
        out.write_text(table)


@app.command("calibrate")
def start_calibrate(
    run: Annotated[str, typer.Argument(help="Run id, <variant>/<run-id> or run folder.")],
    home: HomeOption = None,
) -> None:
    """Refit a finished run's calibration from its folds' saved training-window predictions."""
    from contract.home import resolve_home
    from training.recalibrate import recalibrate_run
    from training.runs import find_run

    run_dir = find_run(resolve_home(home), run)
    summary = recalibrate_run(run_dir)
    typer.echo(f"{run_dir}: calibration refitted on {len(summary['folds'])} fold(s); the "
               f"exported model's: {summary['calibration']}")


@app.command("finetune")
def start_finetune(
    run: Annotated[str, typer.Argument(help="Run id, <variant>/<run-id> or run folder.")],
    epochs: Annotated[int, typer.Option(help="Fine-tuning epochs.")] = 5,
    home: HomeOption = None,
) -> None:
    """Continue a run on bars newer than its data; export it only if it is not worse."""
    from contract.home import resolve_home
    from training.finetune import finetune

    outcome = finetune(resolve_home(home), run, epochs=epochs)
    typer.echo(outcome.describe())


def _split_assignment(item: str) -> tuple[str, str]:
    name, separator, value = item.partition("=")
    if not separator or not name:
        raise typer.BadParameter(f"--set expects name=value, got {item!r}")
    return name.strip(), value.strip()
