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


class Engine(StrEnum):
    """Where a batch job runs: this process, or Ray (`tradecast[ray]`)."""

    local = "local"
    ray = "ray"
