"""The exported models folder: file names, the manifest, metadata flags and session settings.

``exported_models/`` holds ``manifest.json``, the measured ``threads.json`` and one folder per
variant and version with ``model.onnx``, ``metadata.json`` and, when exported with ``--int8``,
``model.int8.onnx``. Training writes them, serving and the benchmarks read them; all of them
import the names and rules from here (standard library only, so serving stays free of torch).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from contract.errors import ArtifactError
from contract.files import write_json_atomic

MANIFEST_FILE = "manifest.json"  # exported_models/manifest.json: the version each variant serves
THREADS_FILE = "threads.json"  # exported_models/threads.json: measured intra-op threads per variant
MODEL_FILE = "model.onnx"  # <variant>/<version>/model.onnx: the fp32 graph, weights inside
INT8_MODEL_FILE = "model.int8.onnx"  # <variant>/<version>/model.int8.onnx: optional int8 copy
METADATA_FILE = "metadata.json"  # <variant>/<version>/metadata.json
PRECISIONS = ("fp32", "int8")  # what a session may be opened from: model.onnx or model.int8.onnx

# metadata.json["untrained"] is true for a graph exported from random weights (`export
# --untrained`); serving refuses such a model unless this variable is "1" (`serve
# --allow-untrained` sets it), so random forecasts are never served by surprise.
UNTRAINED_KEY = "untrained"
ALLOW_UNTRAINED_ENV = "TRADECAST_ALLOW_UNTRAINED"


def model_file(precision: str) -> str:
    """The graph file of ``precision`` inside a version folder."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    return INT8_MODEL_FILE if precision == "int8" else MODEL_FILE


def is_untrained(metadata: dict[str, Any]) -> bool:
    """Whether an export's metadata says its weights never saw training."""
    return bool(metadata.get(UNTRAINED_KEY)) or metadata.get("weights") == "random-init"


def untrained_allowed() -> bool:
    """``TRADECAST_ALLOW_UNTRAINED=1``: the service may load untrained exports."""
    return os.environ.get(ALLOW_UNTRAINED_ENV, "") == "1"


def read_manifest(exported_dir: Path) -> dict[str, Any]:
    """The manifest as written (``{"variants": {}}`` when there is none yet)."""
    path = Path(exported_dir) / MANIFEST_FILE
    if not path.exists():
        return {"variants": {}}
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ArtifactError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path}: not a JSON object")
    return manifest


def manifest_folders(exported_dir: Path) -> dict[str, Path]:
    """Variant -> its version folder, as the manifest names them; at least one or an error."""
    path = Path(exported_dir) / MANIFEST_FILE
    if not path.exists():
        raise ArtifactError(f"{path}: missing (run `tradecast export` first)")
    variants = read_manifest(exported_dir).get("variants")
    if not isinstance(variants, dict) or not variants:
        raise ArtifactError(f"{path}: no variants listed (run `tradecast export` first)")
    folders = {}
    for variant, entry in variants.items():
        if not isinstance(entry, dict) or "path" not in entry:
            raise ArtifactError(f"{path}: entry for '{variant}' has no 'path'")
        folders[variant] = Path(exported_dir) / entry["path"]
    return folders


def update_manifest(exported_dir: Path, variant: str, version: str) -> None:
    """Point serving at ``variant``/``version``, replacing manifest.json atomically."""
    manifest = read_manifest(exported_dir)
    manifest.setdefault("variants", {})[variant] = {"version": version,
                                                     "path": f"{variant}/{version}"}
    write_json_atomic(Path(exported_dir) / MANIFEST_FILE, manifest)


def read_threads(exported_dir: Path) -> dict[str, int]:
    """Variant -> measured intra-op threads from ``threads.json``; {} when absent or unreadable.

    A missing or damaged file only loses a tuning hint, so it never stops a service: callers
    fall back to their default.
    """
    path = Path(exported_dir) / THREADS_FILE
    try:
        chosen = json.loads(path.read_text())["threads"]
        return {str(k): v for k, v in chosen.items() if isinstance(v, int) and v >= 1}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


# onnxruntime session settings shared by serving, the export's parity check and the benchmarks
# (so a benchmark times what the service runs). Plain values: the caller owns onnxruntime.
INTER_OP_THREADS = 1  # one graph runs at a time per session; parallelism is across workers
# Idle intra-op threads sleep instead of spinning: with a worker per core, a spinning thread
# takes the core from the next request.
SESSION_CONFIG = {"session.intra_op.allow_spinning": "0"}
LOG_SEVERITY = 3  # errors only: onnxruntime warnings would drown the service log
PROVIDERS = ("CPUExecutionProvider",)


def configure_session(options: Any, intra_op_threads: int) -> Any:
    """Apply the shared settings to an ``onnxruntime.SessionOptions`` and return it."""
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = INTER_OP_THREADS
    for key, value in SESSION_CONFIG.items():
        options.add_session_config_entry(key, value)
    options.log_severity_level = LOG_SEVERITY
    return options
