"""Entry point of the ``tradecast`` command.

Each sub-command lives in ``tradecast/commands/<job>.py`` as a thin function that parses its
options, calls one package function and prints. Heavy packages (torch, bentoml) are imported
inside the command bodies so that ``tradecast --help`` stays fast.
"""

from __future__ import annotations

import sys

import typer

from contract.errors import TradecastError
from tradecast.commands import (
    backtest,
    bench,
    data,
    demo,
    export,
    features,
    models,
    serve,
    train,
    tune,
)

app = typer.Typer(
    name="tradecast",
    help="Market bars in, trading signals out: data, features, training, export, serving.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(models.app, name="models")
app.command("export")(export.start_export)
app.add_typer(train.app, name="train")
app.command("tune")(tune.start_tune)
app.command("serve")(serve.start_serve)
app.command("signals")(serve.start_signals)
app.command("backtest")(backtest.start_backtest)
app.add_typer(bench.app, name="bench")
app.command("demo")(demo.start_demo)


def main() -> None:
    """Run the CLI; expected failures print one line on stderr and exit with status 1."""
    try:
        app()
    except TradecastError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(1)
