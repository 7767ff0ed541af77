"""Options shared by every sub-command."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        envvar="TRADECAST_HOME",
        help="Folder for data/, checkpoints/ and exported_models/ (default: the project folder).",
    ),
]
# The same option on a command that reads nothing from the home (a catalogue, a benchmark on the
# bundled sample): every command takes --home, so scripts and jobs can always pass it.
UnusedHomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        envvar="TRADECAST_HOME",
        help="Accepted for uniformity; this command reads nothing from the home.",
    ),
]


class Engine(StrEnum):
    """Where a batch job runs: this process, or Ray (`tradecast[ray]`)."""

    local = "local"
    ray = "ray"
