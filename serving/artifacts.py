"""One exported model on disk -> one checked onnxruntime session.

An exported model is ``exported_models/<variant>/<version>/`` with ``model.onnx`` and
``metadata.json`` (see docs/interfaces.md). Loading checks, before anything is served, that the
file is the one the metadata describes (sha256), that onnxruntime can open it, and that the graph
takes and returns what the metadata says; every mismatch is an `ArtifactError` naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import onnxruntime as ort

from contract.artifacts import (
    METADATA_FILE,
    PROVIDERS,
    UNTRAINED_KEY,
    configure_session,
    is_untrained,
    model_file,
)
from contract.errors import ArtifactError
from contract.files import sha256_of
from contract.model import FEATURES_INPUT, HORIZONS, POSITION_INPUT, output_shapes
from features.calibration import Calibration


@dataclass(frozen=True)
class ModelArtifact:
    variant: str  # "full", "simplex", "hybrid" or "ensemble"
    version: str  # the folder name under exported_models/<variant>/
    directory: Path  # exported_models/<variant>/<version>/
    metadata: dict[str, Any]  # metadata.json as written by the export
    session: ort.InferenceSession  # opened once, shared by every request (it is thread-safe)
    precision: str = "fp32"  # "fp32" (model.onnx) or "int8" (model.int8.onnx, export --int8)
    intra_op_threads: int = 1  # onnxruntime intra-op threads of the session

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata["feature_names"])

    @property
    def untrained(self) -> bool:
        """Exported from random weights (``tradecast export --untrained``)."""
        return bool(self.metadata[UNTRAINED_KEY])

    @property
    def window(self) -> int:
        return int(self.metadata["window"])

    @cached_property
    def calibration(self) -> Calibration | None:
        """The post-hoc calibration training fitted (None: the raw outputs are served)."""
        saved = self.metadata.get("calibration")
        return Calibration.from_dict(saved) if saved else None

    @property
    def position_dim(self) -> int:
        """Width of the `position` input; 0 for variants that take none."""
        names = {node.name for node in self.session.get_inputs()}
        return int(self.metadata.get("position_dim") or 0) if POSITION_INPUT in names else 0


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as error:
        raise ArtifactError(f"{path}: missing") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ArtifactError(f"{path}: not valid JSON ({error})") from error


def session_options(intra_op_threads: int) -> ort.SessionOptions:
    """onnxruntime options with the contract's settings (the benchmarks time the same)."""
    return configure_session(ort.SessionOptions(), intra_op_threads)


def load_artifact(directory: Path, intra_op_threads: int = 1,
                  precision: str = "fp32") -> ModelArtifact:
    """Open ``directory``'s model.onnx (or its int8 copy) after checking it against metadata.json.

    ``precision="int8"`` opens ``model.int8.onnx`` when the export made one (its sha256 and
    drift are in the metadata's ``int8`` entry) and falls back to the fp32 graph otherwise.
    """
    metadata = read_json(directory / METADATA_FILE)
    for key in ("variant", "version", "feature_names", "window", "sha256"):
        if key not in metadata:
            raise ArtifactError(f"{directory / METADATA_FILE}: no '{key}' field")
    # Exports older than the flag say "weights": "random-init"; /models shows one flag for all.
    metadata[UNTRAINED_KEY] = is_untrained(metadata)
    int8 = metadata.get("int8")
    if precision == "int8" and not (isinstance(int8, dict) and "sha256" in int8):
        precision = "fp32"  # no int8 copy of this version: the exact graph serves
    model_path = directory / model_file(precision)
    expected = int8["sha256"] if precision == "int8" else metadata["sha256"]
    if not model_path.is_file():
        raise ArtifactError(f"{model_path}: missing")
    actual = sha256_of(model_path)
    if actual != expected:
        raise ArtifactError(
            f"{model_path}: sha256 {actual[:12]}... differs from metadata.json's "
            f"{str(expected)[:12]}... (file changed or corrupt)"
        )
    try:
        session = ort.InferenceSession(
            str(model_path), session_options(intra_op_threads), providers=list(PROVIDERS)
        )
    except Exception as error:  # onnxruntime raises its own untyped errors for a bad graph
        raise ArtifactError(f"{model_path}: onnxruntime cannot load it ({error})") from error
    artifact = ModelArtifact(
        variant=str(metadata["variant"]),
        version=str(metadata["version"]),
        directory=directory,
        metadata=metadata,
        session=session,
        precision=precision,
        intra_op_threads=intra_op_threads,
    )
    check_graph(artifact)
    return artifact


def check_graph(artifact: ModelArtifact) -> None:
    """The graph's inputs and outputs must match the metadata (names, window, widths)."""
    where = artifact.directory / model_file(artifact.precision)
    inputs = {node.name: node.shape for node in artifact.session.get_inputs()}
    if FEATURES_INPUT not in inputs:
        raise ArtifactError(f"{where}: no '{FEATURES_INPUT}' input (has {sorted(inputs)})")
    _, window, width = inputs[FEATURES_INPUT]
    n_names = len(artifact.feature_names)
    if width != n_names:
        raise ArtifactError(
            f"{where}: graph takes {width} features but metadata.json lists {n_names} names"
        )
    if isinstance(window, int) and window != artifact.window:
        raise ArtifactError(f"{where}: graph window {window} != metadata window {artifact.window}")
    if POSITION_INPUT in inputs and inputs[POSITION_INPUT][-1] != artifact.position_dim:
        raise ArtifactError(
            f"{where}: graph position width {inputs[POSITION_INPUT][-1]} != metadata "
            f"position_dim {artifact.position_dim}"
        )
    outputs = {node.name: node.shape for node in artifact.session.get_outputs()}
    horizons = len(artifact.metadata.get("horizons") or HORIZONS)
    for name, expected in output_shapes(artifact.window, horizons).items():
        if name not in outputs:
            raise ArtifactError(f"{where}: no '{name}' output (has {sorted(outputs)})")
        fixed = list(expected[1:])
        actual = list(outputs[name][1:])
        if len(actual) != len(fixed) or any(
            isinstance(a, int) and a != e for a, e in zip(actual, fixed, strict=True)
        ):
            shape = outputs[name]
            raise ArtifactError(f"{where}: output '{name}' has shape {shape}, not {expected}")
