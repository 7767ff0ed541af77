"""PyTorch -> ONNX: one self-contained ``model.onnx`` per variant, proven equal before it is kept.

Export uses the TorchScript exporter (``dynamo=False``): it traces the fixed 60-step window in
seconds (about 4 to 25 s per variant on the shared 2-core machine), where issue 5 measured the
dynamo exporter at 63 to 129 s per variant on the unrolled sLSTM loop. Weights are embedded in
the one file (the largest variant is ~110 MB, far below protobuf's 2 GB), so the sha256 in the
metadata covers graph and weights together.

The export is written to a hidden temporary folder, checked against PyTorch with onnxruntime at
batch 1 and batch 32 from that one file (the batch axis is dynamic), and only then renamed into
``exported_models/<variant>/<version>/``; the manifest is replaced atomically last.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from contract.artifacts import (
    METADATA_FILE,
    MODEL_FILE,
    UNTRAINED_KEY,
    update_manifest,
)
from contract.errors import ArtifactError
from contract.files import sha256_of
from contract.model import (
    FEATURES_INPUT,
    HORIZONS,
    OUTPUT_NAMES,
    POSITION_DIM,
    POSITION_INPUT,
    WINDOW,
    output_shapes,
)
from contract.runs import WEIGHTS_FILE, latest_run
from training.checkpoint import load_checkpoint
from training.int8 import ValidationWindows, add_int8_copy, store_windows
from training.models import TradecastModel, build_model
from training.onnx_tools import ort_session

DEFAULT_N_FEATURES = 60  # input width when neither a checkpoint nor the feature engine names one


@dataclass(frozen=True)
class ExportConfig:
    opset: int = 17  # ONNX opset of the written graph
    tolerance: float = 1e-4  # largest allowed |onnxruntime - torch| on any output
    parity_batches: tuple[int, ...] = (1, 32)  # batch sizes checked from the one exported file
    example_batch: int = 2  # tracing batch; 1 would let the exporter pin the batch axis to 1
    seed: int = 0  # seeds the parity inputs


@dataclass
class ExportResult:
    variant: str  # the exported variant
    version: str  # folder name under exported_models/<variant>/
    folder: Path  # exported_models/<variant>/<version>/
    metadata: dict[str, Any] = field(repr=False)  # what metadata.json holds
    export_s: float = 0.0  # seconds spent tracing and writing the graph
    parity_s: float = 0.0  # seconds spent on the onnxruntime parity check


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch with ``count`` intra-op threads inside the block, then restore the setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def input_names(model: TradecastModel) -> list[str]:
    return [FEATURES_INPUT, POSITION_INPUT] if model.uses_position else [FEATURES_INPUT]


def example_inputs(model: TradecastModel, batch: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Raw-scale inputs: the normaliser maps them to standard normal, positions in [-1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(batch, WINDOW, model.n_features, generator=generator)
    features = model.input_mean + model.input_std * noise  # (B, T, F)
    if not model.uses_position:
        return (features,)
    position = torch.rand(batch, POSITION_DIM, generator=generator) * 2 - 1  # (B, P)
    return features, position


def write_onnx(model: TradecastModel, path: Path, config: ExportConfig) -> None:
    """Trace the model at the example batch and write one ONNX file with a dynamic batch axis."""
    names = input_names(model)
    dynamic = {name: {0: "batch"} for name in [*names, *OUTPUT_NAMES]}
    example = example_inputs(model, config.example_batch, config.seed)
    with warnings.catch_warnings():  # tracer notes about shapes read as Python ints: by design
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            example,
            str(path),
            dynamo=False,
            input_names=names,
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=dynamic,
            opset_version=config.opset,
            do_constant_folding=True,
        )


def parity_check(model: TradecastModel, path: Path, config: ExportConfig) -> float:
    """Largest |onnxruntime - torch| over every output and parity batch; raises past tolerance."""
    session = ort_session(path, threads=torch.get_num_threads())  # the same threads as torch
    names = input_names(model)
    worst = 0.0
    for batch in config.parity_batches:
        inputs = example_inputs(model, batch, config.seed + batch)
        with torch.no_grad():
            expected = [t.numpy() for t in model.eval()(*inputs)]
        got = session.run(
            list(OUTPUT_NAMES), {n: t.numpy() for n, t in zip(names, inputs, strict=True)}
        )
        for name, want, have in zip(OUTPUT_NAMES, expected, got, strict=True):
            if want.shape != have.shape:
                raise ArtifactError(
                    f"{model.variant}: ONNX output {name} has shape {have.shape} at batch "
                    f"{batch}, PyTorch gives {want.shape}; nothing was written"
                )
            diff = float(np.max(np.abs(want - have))) if np.isfinite(have).all() else np.inf
            if diff > config.tolerance:
                raise ArtifactError(
                    f"{model.variant}: ONNX output {name} differs from PyTorch by {diff:.3g} at "
                    f"batch {batch} (tolerance {config.tolerance:g}); nothing was written"
                )
            worst = max(worst, diff)
    return worst


def new_version(variant_dir: Path) -> str:
    """A UTC timestamp, with a counter when a version of that second already exists."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    version, counter = stamp, 1
    while (variant_dir / version).exists():
        counter += 1
        version = f"{stamp}-{counter}"
    return version


def describe_io(model: TradecastModel) -> tuple[list[dict], list[dict]]:
    """Input and output names with shapes, ``"batch"`` marking the dynamic axis."""
    input_shapes = {
        FEATURES_INPUT: ["batch", WINDOW, model.n_features],
        POSITION_INPUT: ["batch", POSITION_DIM],
    }
    inputs = [{"name": name, "shape": input_shapes[name]} for name in input_names(model)]
    outputs = [{"name": name, "shape": list(shape)} for name, shape in output_shapes().items()]
    return inputs, outputs


def export_model(
    model: TradecastModel,
    exported_dir: str | os.PathLike[str],
    feature_names: list[str],
    *,
    checkpoint: str | None = None,
    summary: dict[str, Any] | None = None,
    config: ExportConfig = ExportConfig(),
    int8_windows: ValidationWindows | None = None,
) -> ExportResult:
    """Export, check parity, then publish the folder and point the manifest at it.

    ``int8_windows``: also write the int8 copy, its drift on these windows in the metadata.
    """
    if len(feature_names) != model.n_features:
        raise ArtifactError(
            f"{model.variant}: {len(feature_names)} feature names for a model that reads "
            f"{model.n_features} columns"
        )
    exported_dir = Path(exported_dir)
    variant_dir = exported_dir / model.variant
    variant_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=variant_dir, prefix=".staging-"))
    staging.chmod(0o755)  # mkdtemp makes it private; the published folder is read by serving
    try:
        started = time.perf_counter()
        write_onnx(model, staging / MODEL_FILE, config)
        export_s = time.perf_counter() - started
        started = time.perf_counter()
        parity = parity_check(model, staging / MODEL_FILE, config)
        parity_s = time.perf_counter() - started
        version = new_version(variant_dir)
        inputs, outputs = describe_io(model)
        summary = summary or {}
        metadata = {
            "variant": model.variant,
            "version": version,
            "feature_names": list(feature_names),
            "window": WINDOW,
            "horizons": list(HORIZONS),
            "opset": config.opset,
            "inputs": inputs,
            "outputs": outputs,
            "parameters": model.parameter_count(),
            "position_dim": POSITION_DIM if model.uses_position else 0,
            "weights": "trained" if checkpoint else "random-init",
            UNTRAINED_KEY: checkpoint is None,  # serving refuses these unless told to allow them
            "checkpoint": checkpoint,
            "training_span": summary.get("training_span"),
            "metrics": summary.get("metrics"),
            "calibration": summary.get("calibration"),  # features.calibration; null: none
            "sha256": sha256_of(staging / MODEL_FILE),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "parity_max_abs_diff": parity,
            "parity_batches": list(config.parity_batches),
            "exporter": f"torch {torch.__version__} torch.onnx.export(dynamo=False)",
        }
        if int8_windows is not None:
            position_dim = metadata["position_dim"]
            metadata["int8"] = add_int8_copy(staging, int8_windows, position_dim)
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
        folder = variant_dir / version
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    update_manifest(exported_dir, model.variant, version)
    return ExportResult(model.variant, version, folder, metadata, export_s, parity_s)


def default_feature_names() -> list[str]:
    """The feature engine's names when it is importable, else ``feature_00`` .. ``feature_59``."""
    try:
        from features.engine import feature_names
    except ImportError:
        return [f"feature_{index:02d}" for index in range(DEFAULT_N_FEATURES)]
    return list(feature_names())


def int8_windows_for(model: TradecastModel, feature_names: list[str], summary: dict[str, Any],
                     bars_dir: Path | None, config: ExportConfig) -> ValidationWindows:
    """Validation windows from the bar store, else the synthetic parity windows (said so)."""
    found = store_windows(bars_dir, feature_names, summary, HORIZONS) if bars_dir else None
    if found is not None:
        return found
    features = example_inputs(model, 256, config.seed)[0].numpy()
    return ValidationWindows(features, None, None, "synthetic: 256 normaliser-scaled random "
                             "windows (no bars in the store)")


def export_checkpoint(
    folder: str | os.PathLike[str],
    exported_dir: str | os.PathLike[str],
    *,
    config: ExportConfig = ExportConfig(),
    variant: str | None = None,
    int8_bars_dir: Path | None = None,
    int8: bool = False,
) -> ExportResult:
    """Export a trained checkpoint folder (of ``variant`` when given) with its span and metrics.

    ``int8``: add the int8 copy, its drift measured on validation windows from
    ``int8_bars_dir`` (the home's bar store).
    """
    model, info = load_checkpoint(folder)
    if variant is not None and info["variant"] != variant:
        raise ArtifactError(f"{folder}: holds variant {info['variant']!r}, not {variant!r}")
    names, summary = info["feature_names"], info["summary"]
    windows = int8_windows_for(model, names, summary, int8_bars_dir, config) if int8 else None
    return export_model(model, exported_dir, names, checkpoint=info["path"], summary=summary,
                        config=config, int8_windows=windows)


def export_untrained(
    variant: str,
    exported_dir: str | os.PathLike[str],
    feature_names: list[str] | None = None,
    *,
    config: ExportConfig = ExportConfig(),
    int8_bars_dir: Path | None = None,
    int8: bool = False,
    **overrides: Any,
) -> ExportResult:
    """Export randomly initialised weights (tests, benchmarks); the metadata says untrained."""
    names = feature_names if feature_names is not None else default_feature_names()
    torch.manual_seed(config.seed)
    model = build_model(variant, len(names), **overrides).eval()
    windows = int8_windows_for(model, names, {}, int8_bars_dir, config) if int8 else None
    return export_model(model, exported_dir, names, config=config, int8_windows=windows)


def export_variant(
    variant: str,
    checkpoints_dir: str | os.PathLike[str],
    exported_dir: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str] | None = None,
    *,
    untrained: bool = False,
    int8: bool = False,
    bars_dir: Path | None = None,
) -> ExportResult:
    """Export ``checkpoint``, else the variant's latest checkpoint.

    Without either, random weights are exported only when ``untrained`` says so (`tradecast
    export --untrained`); otherwise it is an `ArtifactError`, so a forgotten training run never
    reaches the manifest. ``int8``: also write the int8 copy, its drift on validation windows
    from ``bars_dir``.
    """
    folder = Path(checkpoint) if checkpoint else latest_run(Path(checkpoints_dir), variant,
                                                             WEIGHTS_FILE)
    if folder is not None:
        return export_checkpoint(folder, exported_dir, variant=variant, int8_bars_dir=bars_dir,
                                 int8=int8)
    if not untrained:
        raise ArtifactError(
            f"{Path(checkpoints_dir) / variant}: no trained checkpoint of '{variant}'; run "
            f"`tradecast train --variant {variant}` first, or pass --untrained to export random "
            "weights (the service refuses them unless started with --allow-untrained)"
        )
    return export_untrained(variant, exported_dir, int8_bars_dir=bars_dir, int8=int8)


def describe_models() -> list[dict[str, Any]]:
    """Name, one-line summary, parameter count and graph interface of every variant."""
    from training.models import VARIANTS

    width = len(default_feature_names())
    described = []
    for name in sorted(VARIANTS):
        model = build_model(name, width)
        inputs, outputs = describe_io(model)
        summary = (type(model).__doc__ or "").strip().splitlines()[0]
        described.append(
            {
                "name": name,
                "summary": summary,
                "parameters": model.parameter_count(),
                "inputs": inputs,
                "outputs": outputs,
            }
        )
    return described
