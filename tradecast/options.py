"""Options shared by every sub-command."""

from pathlib import Path
from typing import Annotated, Optional

import typer

HomeOption = Annotated[
    Optional[Path],
    typer.Option(
        "--home",
        envvar="TRADECAST_HOME",
        help="Folder for data/, checkpoints/ and exported_models/ (default: the project folder).",
    ),
]
