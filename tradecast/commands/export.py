"""`tradecast export`: checkpoints (or, said so, random weights) to parity-checked ONNX files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tradecast.options import HomeOption


def start_export(
    variant: Annotated[
        str, typer.Option("--variant", help="full, simplex, hybrid, ensemble or all.")
    ] = "all",
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="Checkpoint folder (default: the variant's latest under checkpoints/).",
        ),
    ] = None,
    untrained: Annotated[
        bool,
        typer.Option("--untrained", help="Without a checkpoint, export randomly initialised "
                     "weights (marked untrained; the service refuses them unless started with "
                     "--allow-untrained)."),
    ] = False,
    int8: Annotated[
        bool,
        typer.Option("--int8", help="Also write model.int8.onnx (int8 single-row products) with "
                     "its drift on validation windows in metadata.json; fp32 stays the default."),
    ] = False,
    home: HomeOption = None,
) -> None:
    """Export model variants to ONNX, check them against PyTorch, update the manifest."""
    from contract.artifacts import MANIFEST_FILE
    from contract.errors import ArtifactError
    from contract.home import resolve_home
    from training.export import export_variant
    from training.models import VARIANTS

    chosen = sorted(VARIANTS) if variant == "all" else [variant]
    if variant != "all" and variant not in VARIANTS:
        known = ", ".join(sorted(VARIANTS))
        raise ArtifactError(f"--variant {variant!r}: use all or one of {known}")
    if checkpoint is not None and len(chosen) > 1:
        raise ArtifactError("--checkpoint holds one variant: give --variant too")
    resolved = resolve_home(home)
    for name in chosen:
        typer.echo(f"{name}: exporting ...")
        result = export_variant(name, resolved.checkpoints_dir, resolved.exported_dir, checkpoint,
                                untrained=untrained, int8=int8, bars_dir=resolved.bars_dir)
        meta = result.metadata
        source = meta["checkpoint"] or "UNTRAINED random weights (--untrained, no checkpoint)"
        typer.echo(
            f"{name}: {meta['parameters'] / 1e6:.2f}M parameters from {source}\n"
            f"  export {result.export_s:.1f}s, parity {result.parity_s:.1f}s "
            f"(max |onnx - torch| {meta['parity_max_abs_diff']:.2e} at batch "
            f"{', '.join(map(str, meta['parity_batches']))})\n"
            f"  -> {result.folder / 'model.onnx'}"
        )
        if "int8" in meta:
            drift = meta["int8"]["drift"]
            typer.echo(f"  int8 copy -> {result.folder / meta['int8']['file']}: direction "
                       f"agreement {drift['direction_agreement']:.3f}, attention max diff "
                       f"{drift['attention_max_abs_diff']:.2e} ({drift['windows']})")
    typer.echo(f"manifest: {resolved.exported_dir / MANIFEST_FILE}")
