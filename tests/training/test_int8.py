"""The int8 copy: only the large single-row products change, its drift is measured and small,
serving opens it only when asked, and the measured threads reach the sessions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from contract.artifacts import INT8_MODEL_FILE, THREADS_FILE, read_threads
from contract.errors import ArtifactError
from contract.files import sha256_of
from serving.registry import ModelRegistry
from training.export import torch_threads
from training.int8 import ValidationWindows, add_int8_copy, store_windows
from training.onnx_tools import gemms_as_matmuls, single_row_products


@pytest.fixture(scope="module")
def int8_home(exported_home, sample_home, tmp_path_factory) -> Path:
    """Exported hybrid (with an int8 copy, drift on real windows) and simplex (without)."""
    exported = tmp_path_factory.mktemp("int8") / "exported_models"
    manifest = json.loads((exported_home.exported_dir / "manifest.json").read_text())
    manifest["variants"] = {v: manifest["variants"][v] for v in ("hybrid", "simplex")}
    for entry in manifest["variants"].values():
        shutil.copytree(exported_home.exported_dir / entry["path"], exported / entry["path"])
    (exported / "manifest.json").write_text(json.dumps(manifest))
    folder = exported / manifest["variants"]["hybrid"]["path"]
    metadata = json.loads((folder / "metadata.json").read_text())
    windows = store_windows(sample_home.bars_dir, metadata["feature_names"], {}, (1, 4, 24),
                            limit=96)
    width = len(metadata["feature_names"])
    assert windows is not None and windows.features.shape == (96, 60, width)
    with torch_threads(1):
        metadata["int8"] = add_int8_copy(folder, windows, position_dim=0)
    (folder / "metadata.json").write_text(json.dumps(metadata))
    return exported


def hybrid_folder(exported: Path) -> Path:
    manifest = json.loads((exported / "manifest.json").read_text())
    return exported / manifest["variants"]["hybrid"]["path"]


def test_only_large_single_row_products_are_quantised(int8_home: Path) -> None:
    folder = hybrid_folder(int8_home)
    entry = json.loads((folder / "metadata.json").read_text())["int8"]
    assert entry["sha256"] == sha256_of(folder / INT8_MODEL_FILE)
    fp32 = gemms_as_matmuls(onnx.load(str(folder / "model.onnx")))
    assert entry["quantised_nodes"] == single_row_products(fp32)
    assert any("fusion" in name for name in entry["quantised_nodes"])
    assert not any("blocks.0" in name for name in entry["quantised_nodes"])  # sequence products
    ops = {node.op_type for node in onnx.load(str(folder / INT8_MODEL_FILE)).graph.node}
    assert "MatMulInteger" in ops and "DynamicQuantizeLinear" in ops


def test_drift_is_reported_and_small(int8_home: Path) -> None:
    folder = hybrid_folder(int8_home)
    drift = json.loads((folder / "metadata.json").read_text())["int8"]["drift"]
    assert "96 windows" in drift["windows"]
    assert drift["direction_agreement"] >= 0.95
    assert drift["probability_max_abs_diff"] < 0.02
    assert drift["attention_max_abs_diff"] < 0.02
    assert abs(drift["return_mae_int8"] - drift["return_mae_fp32"]) < 0.01
    assert 0 <= drift["direction_accuracy_int8"] <= 1


def test_serving_opens_int8_only_when_asked(int8_home: Path, monkeypatch) -> None:
    monkeypatch.delenv("TRADECAST_PRECISION", raising=False)
    assert ModelRegistry(int8_home).get("hybrid").precision == "fp32"
    asked = ModelRegistry(int8_home, precision="int8")
    assert asked.get("hybrid").precision == "int8"
    assert asked.get("simplex").precision == "fp32"  # no int8 copy: the exact graph serves
    monkeypatch.setenv("TRADECAST_PRECISION", "int8")
    assert ModelRegistry(int8_home).get("hybrid").precision == "int8"
    monkeypatch.setenv("TRADECAST_PRECISION", "int4")
    with pytest.raises(ArtifactError, match="TRADECAST_PRECISION"):
        ModelRegistry(int8_home)


def test_a_changed_int8_file_is_refused(int8_home: Path, tmp_path: Path) -> None:
    exported = tmp_path / "exported_models"
    shutil.copytree(int8_home, exported)
    target = hybrid_folder(exported) / INT8_MODEL_FILE
    target.write_bytes(target.read_bytes()[:-1] + b"\0")
    with pytest.raises(ArtifactError, match="model.int8.onnx: sha256"):
        ModelRegistry(exported, precision="int8")


def test_measured_threads_reach_the_sessions(int8_home: Path, tmp_path: Path) -> None:
    exported = tmp_path / "exported_models"
    shutil.copytree(int8_home, exported)
    assert read_threads(exported) == {}
    (exported / THREADS_FILE).write_text(json.dumps({"threads": {"hybrid": 2, "simplex": "x"}}))
    assert read_threads(exported) == {"hybrid": 2}  # a bad entry is ignored, not fatal
    registry = ModelRegistry(exported)
    assert registry.get("hybrid").intra_op_threads == 2
    assert registry.get("simplex").intra_op_threads == 1
    assert ModelRegistry(exported, intra_op_threads=1).get("hybrid").intra_op_threads == 1
    (exported / THREADS_FILE).write_text("{not json")
    assert ModelRegistry(exported).get("hybrid").intra_op_threads == 1


def test_synthetic_windows_give_drift_without_labels(int8_home: Path) -> None:
    from training.int8 import drift

    folder = hybrid_folder(int8_home)
    width = len(json.loads((folder / "metadata.json").read_text())["feature_names"])
    features = np.random.default_rng(0).standard_normal((8, 60, width)).astype(np.float32)
    report = drift(folder / "model.onnx", folder / INT8_MODEL_FILE,
                   ValidationWindows(features, None, None, "synthetic"), position_dim=0)
    assert report["windows"] == "synthetic" and "direction_accuracy_int8" not in report
