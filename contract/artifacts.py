"""File names of the exported models folder: the one place they are written down.

``exported_models/`` holds ``manifest.json``, the measured ``threads.json`` and one folder per
variant and version with ``model.onnx``, ``metadata.json`` and, when exported with ``--int8``,
``model.int8.onnx``. Training writes them, serving and the benchmarks read them; all three
import the names from here (standard library only, so serving stays free of torch).
"""

from __future__ import annotations

import json
from pathlib import Path

MANIFEST_FILE = "manifest.json"  # exported_models/manifest.json: the version each variant serves
THREADS_FILE = "threads.json"  # exported_models/threads.json: measured intra-op threads per variant
MODEL_FILE = "model.onnx"  # <variant>/<version>/model.onnx: the fp32 graph, weights inside
INT8_MODEL_FILE = "model.int8.onnx"  # <variant>/<version>/model.int8.onnx: optional int8 copy
METADATA_FILE = "metadata.json"  # <variant>/<version>/metadata.json
PRECISIONS = ("fp32", "int8")  # what a session may be opened from: model.onnx or model.int8.onnx


def model_file(precision: str) -> str:
    """The graph file of ``precision`` inside a version folder."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    return INT8_MODEL_FILE if precision == "int8" else MODEL_FILE


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
