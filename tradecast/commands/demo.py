"""`tradecast demo`: README.md's main job (import, train if needed, export, serve, example)."""

from typing import Annotated

import typer

from tradecast.options import HomeOption


def start_demo(
    port: Annotated[int, typer.Option("--port", help="TCP port on 127.0.0.1.")] = 3000,
    profile: Annotated[
        str, typer.Option(help="Training profile, used only if nothing is exported.")
    ] = "quick",
    keep_serving: Annotated[
        bool, typer.Option("--keep-serving/--exit", help="Keep serving after the example.")
    ] = True,
    home: HomeOption = None,
) -> None:
    """Import the sample, train the quick profile if no model is exported, export, serve and
    print a working example request."""
    from contract.home import resolve_home
    from tradecast.workflow import run_demo

    run_demo(resolve_home(home), port, profile, keep_serving, say=typer.echo)
