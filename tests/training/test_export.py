"""ONNX export: parity at batch 1 and 32 from one file, metadata, sha256, manifest, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from contract.errors import ArtifactError
from contract.files import sha256_of
from contract.model import OUTPUT_NAMES
from training.checkpoint import save_checkpoint
from training.export import (
    ExportConfig,
    example_inputs,
    export_checkpoint,
    export_model,
    export_variant,
    input_names,
    torch_threads,
)
from training.models import TINY_OVERRIDES, VARIANTS, build_model
from training.models.variants import Simplex

METADATA_FIELDS = {
    "variant",
    "version",
    "feature_names",
    "window",
    "horizons",
    "opset",
    "inputs",
    "outputs",
    "parameters",
    "position_dim",
    "weights",
    "checkpoint",
    "training_span",
    "metrics",
    "sha256",
    "created_at",
    "parity_max_abs_diff",
}


@pytest.fixture(autouse=True, scope="module")
def single_thread_torch():
    """Two OpenMP threads fighting the rest of the suite for two cores are far slower than one."""
    with torch_threads(1):
        yield


def exported_folder(home, variant: str) -> Path:
    manifest = json.loads((home.exported_dir / "manifest.json").read_text())
    return home.exported_dir / manifest["variants"][variant]["path"]


def test_manifest_names_every_variant(exported_home) -> None:
    manifest = json.loads((exported_home.exported_dir / "manifest.json").read_text())
    assert set(manifest["variants"]) == set(VARIANTS)
    for variant, entry in manifest["variants"].items():
        assert entry["path"] == f"{variant}/{entry['version']}"
    leftovers = [p.name for p in exported_home.exported_dir.rglob(".*")]
    assert leftovers == [], "temporary files or staging folders left behind"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_metadata_describes_the_graph(exported_home, variant: str) -> None:
    folder = exported_folder(exported_home, variant)
    metadata = json.loads((folder / "metadata.json").read_text())
    assert set(metadata) >= METADATA_FIELDS
    assert metadata["variant"] == variant and metadata["version"] == folder.name
    assert metadata["weights"] == "random-init" and metadata["checkpoint"] is None
    assert metadata["untrained"] is True  # exported with export_untrained: serving refuses it
    assert metadata["sha256"] == sha256_of(folder / "model.onnx")
    # the export's own check: onnxruntime vs torch at batch 1 and 32 from this one file
    assert metadata["parity_batches"] == [1, 32] and metadata["parity_max_abs_diff"] <= 1e-4
    names = {p.name for p in folder.iterdir()}
    assert names == {"model.onnx", "metadata.json"}  # one self-contained file: no external weights
    graph = onnx.load(folder / "model.onnx", load_external_data=False).graph
    features = graph.input[0].type.tensor_type.shape.dim
    width = len(metadata["feature_names"])
    assert [d.dim_param or d.dim_value for d in features] == ["batch", 60, width]
    assert [spec["name"] for spec in metadata["inputs"]] == [i.name for i in graph.input]
    assert [spec["name"] for spec in metadata["outputs"]] == [o.name for o in graph.output]
    assert metadata["position_dim"] == (4 if variant == "full" else 0)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_onnx_matches_torch_on_new_inputs(exported_home, variant: str) -> None:
    """Beyond the export's own batch 1 and 32 check: other inputs and batch sizes, rebuilt
    from the same fresh weights (seed 0)."""
    folder = exported_folder(exported_home, variant)
    metadata = json.loads((folder / "metadata.json").read_text())
    torch.manual_seed(ExportConfig().seed)
    model = build_model(variant, len(metadata["feature_names"])).eval()
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        inputs = example_inputs(model, batch, seed=1000 + batch)
        with torch.no_grad():
            expected = [t.numpy() for t in model(*inputs)]
        got = session.run(
            None, {n: t.numpy() for n, t in zip(input_names(model), inputs, strict=True)}
        )
        for name, want, have in zip(OUTPUT_NAMES, expected, got, strict=True):
            assert have.shape == want.shape, name
            assert np.max(np.abs(have - want)) <= 1e-4, f"{variant} {name} batch {batch}"
        attention = got[OUTPUT_NAMES.index("attention")]
        assert (attention >= 0).all()
        np.testing.assert_allclose(attention.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_graph_reads_no_dimension_at_run_time(exported_home, variant: str) -> None:
    """Every shape but the batch's is a constant of the graph: no node reads a dimension out of
    the input's runtime shape (each read is a chain of small kernels paid at every call)."""
    graph = onnx.load(exported_folder(exported_home, variant) / "model.onnx").graph
    shapes = {node.output[0] for node in graph.node if node.op_type == "Shape"}
    readers = {node.op_type for node in graph.node if shapes & set(node.input)}
    assert readers <= {"Reshape"}  # view_as: a tensor shaped like another, no dimension read


class TracedDifferently(Simplex):
    """A forward with a data-dependent Python branch: the trace keeps only one side of it."""

    def forward(self, features, position=None):
        outputs = super().forward(features, position)
        if features.shape[0] == 2:  # true at the export's example batch, false at 1 and 32
            return outputs
        return (outputs[0] + 1.0, *outputs[1:])


def test_export_refuses_a_model_that_fails_parity(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TracedDifferently(build_model("simplex", 5, **TINY_OVERRIDES["simplex"]).config, 5)
    with pytest.raises(ArtifactError, match="direction_logits differs from PyTorch"):
        export_model(model.eval(), tmp_path, list("abcde"))
    assert list((tmp_path / "simplex").iterdir()) == []  # no version, no staging folder
    assert not (tmp_path / "manifest.json").exists()


def test_export_refuses_a_feature_list_of_the_wrong_width(tmp_path: Path) -> None:
    model = build_model("hybrid", 5, **TINY_OVERRIDES["hybrid"])
    with pytest.raises(ArtifactError, match="4 feature names for a model that reads 5 columns"):
        export_model(model, tmp_path, list("abcd"))


def test_trained_checkpoint_exports_with_its_normaliser_and_names(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("full", 3, **TINY_OVERRIDES["full"]).eval()
    model.set_normaliser([100.0, -2.0, 5e5], [10.0, 0.5, 1e4])
    (tmp_path / "run").mkdir()
    span = {"start": "2010-01-04T00:00:00+00:00", "end": "2019-12-31T00:00:00+00:00"}
    (tmp_path / "run" / "summary.json").write_text(  # the shape training.runs writes
        json.dumps({"training_span": span, "metrics": {"val_loss": 1.5}})
    )
    save_checkpoint(tmp_path / "run", model, ["close", "rsi_14", "volume"], variant="full")
    result = export_checkpoint(tmp_path / "run", tmp_path / "exported")
    meta = result.metadata
    assert meta["weights"] == "trained" and meta["checkpoint"] == str(tmp_path / "run")
    assert meta["untrained"] is False
    assert meta["feature_names"] == ["close", "rsi_14", "volume"]
    assert meta["training_span"] == span
    assert meta["metrics"] == {"val_loss": 1.5}
    session = ort.InferenceSession(str(result.folder / "model.onnx"))
    features, position = example_inputs(model, 4, seed=9)  # raw scale: around 5e5 for volume
    with torch.no_grad():
        want = model(features, position)[1].numpy()
    have = session.run(["returns"], {"features": features.numpy(), "position": position.numpy()})
    np.testing.assert_allclose(have[0], want, atol=1e-4)


def test_no_checkpoint_exports_nothing_unless_untrained_is_asked_for(tmp_path: Path) -> None:
    """The trap of issue 16: `export --variant all` on a fresh home published random weights."""
    from typer.testing import CliRunner

    from tradecast.cli import app

    runner = CliRunner()
    refused = runner.invoke(app, ["export", "--variant", "simplex", "--home", str(tmp_path)])
    assert isinstance(refused.exception, ArtifactError)
    assert "no trained checkpoint of 'simplex'" in str(refused.exception)
    assert "--untrained" in str(refused.exception)
    assert not (tmp_path / "exported_models" / "manifest.json").exists()
    result = export_variant("simplex", tmp_path / "checkpoints", tmp_path / "exported_models",
                            untrained=True)
    assert result.metadata["untrained"] is True and result.metadata["checkpoint"] is None


def test_cli_exports_the_latest_checkpoint_and_refuses_a_wrong_variant(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tradecast.cli import app

    model = build_model("hybrid", 4, **TINY_OVERRIDES["hybrid"])
    run = tmp_path / "checkpoints" / "hybrid" / "20260101T000000Z"
    save_checkpoint(run, model, ["a", "b", "c", "d"])
    runner = CliRunner()
    done = runner.invoke(app, ["export", "--variant", "hybrid", "--home", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert str(run) in done.output and "parity" in done.output
    refused = runner.invoke(
        app, ["export", "--variant", "simplex", "--checkpoint", str(run), "--home", str(tmp_path)]
    )
    assert isinstance(refused.exception, ArtifactError)
    assert "holds variant 'hybrid', not 'simplex'" in str(refused.exception)
    manifest = json.loads((tmp_path / "exported_models" / "manifest.json").read_text())
    assert set(manifest["variants"]) == {"hybrid"}


def test_the_checkpoints_calibration_is_exported_and_served_as_fitted(tmp_path: Path) -> None:
    from features.calibration import Calibration, apply_calibration, scale_temperature
    from serving.artifacts import load_artifact
    from serving.predictor import OnnxPredictor

    torch.manual_seed(0)
    model = build_model("simplex", 3, **TINY_OVERRIDES["simplex"]).eval()
    calibration = Calibration((2.0, 1.0, 0.5), (0.25, 1.0, 1.0), (0.001, 0.0, 0.0),
                              (0.5, 1.0, 1.0))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "summary.json").write_text(json.dumps({
        "training_span": ["2010-01-04", "2019-12-31"], "calibration": calibration.to_dict()}))
    save_checkpoint(tmp_path / "run", model, ["close", "rsi_14", "volume"], variant="simplex")
    result = export_checkpoint(tmp_path / "run", tmp_path / "exported")
    assert result.metadata["calibration"] == calibration.to_dict()

    artifact = load_artifact(result.folder)
    features = np.random.default_rng(3).normal(size=(5, 60, 3)).astype(np.float32)
    served = OnnxPredictor(artifact).predict(features)
    logits, returns, volatility, _ = artifact.session.run(None, {"features": features})
    raw = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    want = apply_calibration(calibration, raw, returns, volatility)
    np.testing.assert_allclose(served.probabilities, want[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served.returns, want[1], rtol=1e-6)
    np.testing.assert_allclose(served.returns[:, 0], 0.25 * returns[:, 0], rtol=1e-6)
    np.testing.assert_allclose(served.returns[:, 1:], returns[:, 1:])
    np.testing.assert_allclose(served.volatility[:, 0], 0.001 + 0.5 * volatility[:, 0], rtol=1e-5)
    np.testing.assert_allclose(served.probabilities[:, 0], scale_temperature(raw[:, 0], 2.0),
                               rtol=1e-5, atol=1e-6)
