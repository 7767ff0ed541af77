"""`tradecast tune`: a hyperparameter sweep on Ray Tune over a small search-space file."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from tradecast.options import HomeOption


def start_tune(
    space: Annotated[str, typer.Argument(help="A search space in configs/tune/ or a .toml path.")],
    home: HomeOption = None,
) -> None:
    """Train every point of the search space (one Ray Tune trial each); print them, best first."""
    from contract.home import resolve_home
    from scaleout.tune import load_space, sweep

    resolved = resolve_home(home)
    chosen = load_space(space)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    folder = resolved.checkpoints_dir / "sweeps" / f"{stamp}"
    for outcome in sweep(resolved, chosen, folder):
        settings = " ".join(f"{k}={v}" for k, v in outcome.overrides.items())
        typer.echo(f"{outcome.best_val_loss:.6f}  {settings}  {outcome.run_dir}")
    typer.echo(f"Ray Tune state: {folder}")
