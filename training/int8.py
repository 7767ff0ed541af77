"""The optional int8 copy of an export, and how far it drifts from the fp32 graph.

``tradecast export --int8`` writes ``model.int8.onnx`` beside ``model.onnx`` (see
``training.onnx_tools.write_int8``) and records in ``metadata.json`` under ``int8`` its sha256,
the quantised nodes, and its drift on validation windows: direction accuracy of both graphs
(and how often they agree), return MAE of both against the labels, and the largest
differences in probabilities, returns and attention. fp32 stays what the service runs unless
it is asked for int8 (``TRADECAST_PRECISION=int8``).

Validation windows come from the home's bar store: the windows after the checkpoint's training
span (its validation span when the summary names one), else the latest windows. Without bars
the drift is measured on the export's synthetic parity windows, and the metadata says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contract.artifacts import INT8_MODEL_FILE, MODEL_FILE
from contract.errors import TradecastError
from contract.files import sha256_of
from training.onnx_tools import ort_session, write_int8

MAX_WINDOWS = 512  # validation windows the drift is measured on (the latest ones)
BATCH = 64  # windows per onnxruntime call while measuring


@dataclass(frozen=True)
class ValidationWindows:
    features: np.ndarray  # (N, 60, F) float32, the model's columns in its order
    direction: np.ndarray | None  # (N, H) direction classes (0/1/2), None when unlabelled
    returns: np.ndarray | None  # (N, H) forward returns, None when unlabelled
    source: str  # where the windows come from, written to the metadata


def store_windows(bars_dir: Path, feature_names: list[str], summary: dict[str, Any],
                  horizons: tuple[int, ...], limit: int = MAX_WINDOWS) -> ValidationWindows | None:
    """The latest validation windows of the sample universe in ``bars_dir``; None without bars."""
    from marketdata.store import BarStore
    from training.config import DataConfig
    from training.dataset import load_market

    try:
        market = load_market(BarStore(bars_dir), DataConfig(), horizons)
    except TradecastError:
        return None
    windows = market.windows
    stamps = windows.end_timestamps
    span = summary.get("validation_span") or {}
    trained_until = (summary.get("training_span") or {}).get("end")
    if span.get("start"):
        chosen = (stamps >= pd.Timestamp(span["start"])) & (stamps <= pd.Timestamp(span["end"]))
        source = f"validation span {span['start'][:10]} .. {span['end'][:10]}"
    elif trained_until:
        chosen = stamps > pd.Timestamp(trained_until)
        source = f"windows after the training span (ends {trained_until[:10]})"
    else:
        chosen = np.ones(len(stamps), dtype=bool)
        source = "latest windows of the bar store (the model has no training span)"
    samples = np.flatnonzero(chosen)[-limit:]
    if len(samples) == 0:
        return None
    columns = [windows.names.index(name) for name in feature_names]
    labels = windows.batch_labels(samples)
    direction = labels[:, [windows.label_columns.index(f"dir_{h}") for h in horizons]]
    returns = labels[:, [windows.label_columns.index(f"ret_{h}") for h in horizons]]
    features = np.ascontiguousarray(windows.batch(samples)[:, :, columns], dtype=np.float32)
    return ValidationWindows(features, direction.astype(np.int64), returns,
                             f"{source}, {len(samples)} windows of {', '.join(windows.symbols)}")


def _outputs(path: Path, windows: ValidationWindows, position_dim: int) -> list[np.ndarray]:
    session = ort_session(path, threads=1)
    names = [o.name for o in session.get_outputs()]
    parts: list[list[np.ndarray]] = [[] for _ in names]
    for start in range(0, len(windows.features), BATCH):
        feeds = {"features": windows.features[start : start + BATCH]}
        if position_dim:  # flat, as the service assumes without a position
            feeds["position"] = np.zeros((len(feeds["features"]), position_dim), np.float32)
        for part, value in zip(parts, session.run(names, feeds), strict=True):
            part.append(value)
    return [np.concatenate(part) for part in parts]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def drift(fp32: Path, int8: Path, windows: ValidationWindows, position_dim: int) -> dict:
    """How the int8 graph's answers differ from the fp32 graph's on ``windows``."""
    (logits, returns, volatility, attention) = _outputs(fp32, windows, position_dim)
    (logits_8, returns_8, volatility_8, attention_8) = _outputs(int8, windows, position_dim)
    calls, calls_8 = logits.argmax(-1), logits_8.argmax(-1)  # (N, H)
    report = {
        "windows": windows.source,
        "direction_agreement": round(float((calls == calls_8).mean()), 4),
        "probability_max_abs_diff": float(np.abs(_softmax(logits) - _softmax(logits_8)).max()),
        "returns_max_abs_diff": float(np.abs(returns - returns_8).max()),
        "volatility_max_abs_diff": float(np.abs(volatility - volatility_8).max()),
        "attention_max_abs_diff": float(np.abs(attention - attention_8).max()),
    }
    if windows.direction is not None and windows.returns is not None:
        report.update({
            "direction_accuracy_fp32": round(float((calls == windows.direction).mean()), 4),
            "direction_accuracy_int8": round(float((calls_8 == windows.direction).mean()), 4),
            "return_mae_fp32": float(np.abs(returns - windows.returns).mean()),
            "return_mae_int8": float(np.abs(returns_8 - windows.returns).mean()),
        })
    return report


def add_int8_copy(folder: Path, windows: ValidationWindows, position_dim: int) -> dict:
    """Write ``folder``/model.int8.onnx and return its metadata entry (sha256, nodes, drift)."""
    target = folder / INT8_MODEL_FILE
    quantised = write_int8(folder / MODEL_FILE, target)
    return {
        "file": INT8_MODEL_FILE,
        "sha256": sha256_of(target),
        "scheme": "onnxruntime dynamic quantisation, int8 weights (per tensor), MatMul only",
        "quantised_nodes": quantised,
        "drift": drift(folder / MODEL_FILE, target, windows, position_dim),
    }
