"""Loading exported models: every check that guards the service's start-up and reload."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from contract.artifacts import ALLOW_UNTRAINED_ENV, manifest_folders
from contract.errors import ArtifactError
from contract.files import sha256_of
from contract.home import Home
from serving.registry import ModelRegistry


@pytest.fixture()
def exported(tmp_path: Path, exported_home: Home) -> Path:
    """A private copy of exported_models/ with hybrid only (quick to load and to damage)."""
    target = tmp_path / "exported_models"
    manifest = json.loads((exported_home.exported_dir / "manifest.json").read_text())
    entry = manifest["variants"]["hybrid"]
    shutil.copytree(exported_home.exported_dir / entry["path"], target / entry["path"])
    (target / "manifest.json").write_text(json.dumps({"variants": {"hybrid": entry}}))
    return target


def version_dir(exported: Path) -> Path:
    return exported / manifest_folders(exported)["hybrid"].relative_to(exported)


def test_loads_every_variant_once_with_checked_metadata(exported_home: Home) -> None:
    registry = ModelRegistry(exported_home.exported_dir)
    manifest = json.loads((exported_home.exported_dir / "manifest.json").read_text())
    assert set(registry.models) == set(manifest["variants"])
    for variant, artifact in registry.models.items():
        assert artifact.variant == variant
        assert artifact.version == manifest["variants"][variant]["version"]
        width = artifact.session.get_inputs()[0].shape[-1]
        assert width == len(artifact.feature_names)


def test_corrupt_model_is_refused(exported: Path) -> None:
    folder = version_dir(exported)
    (folder / "model.onnx").write_bytes(b"not an onnx graph")
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata["sha256"] = sha256_of(folder / "model.onnx")  # so only the graph check can fail
    (folder / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="onnxruntime cannot load"):
        ModelRegistry(exported)


def test_changed_model_fails_the_sha256_check(exported: Path) -> None:
    model = version_dir(exported) / "model.onnx"
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(ArtifactError, match="sha256"):
        ModelRegistry(exported)


def test_metadata_width_must_match_the_graph(exported: Path) -> None:
    path = version_dir(exported) / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["feature_names"] = metadata["feature_names"][:-1]
    path.write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="features but metadata.json lists"):
        ModelRegistry(exported)


def test_manifest_entry_must_exist(exported: Path) -> None:
    (exported / "manifest.json").write_text(json.dumps({"variants": {"hybrid": {"version": "x"}}}))
    with pytest.raises(ArtifactError, match="no 'path'"):
        ModelRegistry(exported)
    (exported / "manifest.json").write_text(
        json.dumps({"variants": {"hybrid": {"version": "x", "path": "hybrid/nowhere"}}})
    )
    with pytest.raises(ArtifactError, match="missing"):
        ModelRegistry(exported)


def test_reload_swaps_versions_or_keeps_the_old_ones(exported: Path) -> None:
    registry = ModelRegistry(exported)
    old = registry.get("hybrid")
    copy = exported / "hybrid" / "v-reloaded"
    shutil.copytree(old.directory, copy)
    metadata = json.loads((copy / "metadata.json").read_text())
    metadata["version"] = "v-reloaded"
    (copy / "metadata.json").write_text(json.dumps(metadata))
    manifest_path = exported / "manifest.json"
    manifest_path.write_text(json.dumps(
        {"variants": {"hybrid": {"version": "v-reloaded", "path": "hybrid/v-reloaded"}}}
    ))
    assert registry.reload() == {"hybrid": "v-reloaded"}
    assert registry.get("hybrid").version == "v-reloaded"

    (copy / "model.onnx").write_bytes(b"broken")
    with pytest.raises(ArtifactError):
        registry.reload()
    kept = registry.get("hybrid")
    assert kept.version == "v-reloaded"  # the loaded set survives a failed reload
    window = np.zeros((1, kept.window, len(kept.feature_names)), dtype=np.float32)
    assert kept.session.run(None, {"features": window})[0].shape == (1, 3, 3)


def test_untrained_models_are_refused_unless_allowed(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`export --untrained` marks the metadata; serving refuses it without being told."""
    from serving.registry import refuse_untrained

    monkeypatch.delenv(ALLOW_UNTRAINED_ENV, raising=False)
    with pytest.raises(ArtifactError, match="untrained.*--allow-untrained"):
        ModelRegistry(exported)
    with pytest.raises(ArtifactError, match="'hybrid' was exported from untrained"):
        refuse_untrained(exported)  # what `tradecast serve` checks before it starts
    monkeypatch.setenv(ALLOW_UNTRAINED_ENV, "1")
    registry = ModelRegistry(exported)
    assert registry.get("hybrid").untrained and registry.get("hybrid").metadata["untrained"]
    refuse_untrained(exported)

    # An export older than the flag says "weights": "random-init": refused just the same.
    metadata_path = version_dir(exported) / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    del metadata["untrained"]
    metadata_path.write_text(json.dumps(metadata))
    monkeypatch.delenv(ALLOW_UNTRAINED_ENV)
    with pytest.raises(ArtifactError, match="untrained"):
        ModelRegistry(exported)
    # A trained export loads without any permission.
    metadata.update(weights="trained", checkpoint="somewhere")
    metadata_path.write_text(json.dumps(metadata))
    assert not ModelRegistry(exported).get("hybrid").untrained


def test_serve_refuses_untrained_models_before_starting(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from tradecast.cli import app

    monkeypatch.delenv(ALLOW_UNTRAINED_ENV, raising=False)
    home = exported.parent
    refused = CliRunner().invoke(app, ["serve", "--home", str(home)])
    assert isinstance(refused.exception, ArtifactError)
    assert "--allow-untrained" in str(refused.exception)
