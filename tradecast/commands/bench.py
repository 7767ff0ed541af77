"""`tradecast bench` sub-commands (to be filled in by the issue that owns them)."""

import typer

app = typer.Typer(help="bench", no_args_is_help=True)
