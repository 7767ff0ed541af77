"""`tradecast models`: the registered model variants, their sizes and their graph interface."""

from __future__ import annotations

from typing import Annotated

import typer

from tradecast.options import UnusedHomeOption

app = typer.Typer(
    help="The model variants: names, sizes, inputs and outputs.", no_args_is_help=True
)


@app.command("list")
def start_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    home: UnusedHomeOption = None,
) -> None:
    """Every registered variant with its parameter count, inputs and outputs."""
    import json

    from training.export import describe_models

    models = describe_models()
    if as_json:
        typer.echo(json.dumps(models, indent=2))
        return
    for model in models:
        shapes = [
            f"{spec['name']} {spec['shape']}".replace("'", "")
            for spec in (*model["inputs"], *model["outputs"])
        ]
        typer.echo(f"{model['name']:<9} {model['parameters'] / 1e6:6.2f}M  {model['summary']}")
        typer.echo(f"{'':<18}in:  {', '.join(shapes[: len(model['inputs'])])}")
        typer.echo(f"{'':<18}out: {', '.join(shapes[len(model['inputs']) :])}")
