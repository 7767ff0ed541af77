"""The on-disk contract: atomic writes that survive a failed write, the manifest, run folders."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from contract import files
from contract.artifacts import manifest_folders, read_manifest, update_manifest
from contract.errors import ArtifactError
from contract.files import sha256_of, write_atomic
from contract.runs import METRICS_LOG, PREDICTIONS_FILE, WEIGHTS_FILE, latest_run, run_folders


def test_manifest_update_keeps_other_variants_and_survives_a_failed_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    update_manifest(tmp_path, "hybrid", "v1")
    update_manifest(tmp_path, "simplex", "v2")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["variants"]["hybrid"] == {"version": "v1", "path": "hybrid/v1"}
    assert manifest["variants"]["simplex"]["version"] == "v2"
    assert read_manifest(tmp_path) == manifest
    assert manifest_folders(tmp_path) == {"hybrid": tmp_path / "hybrid/v1",
                                          "simplex": tmp_path / "simplex/v2"}

    def full_disk(descriptor: int) -> None:  # the data was written, its flush to disk fails
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "fsync", full_disk)
    with pytest.raises(OSError, match="disk full"):
        update_manifest(tmp_path, "hybrid", "v3")
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temporary left


def test_an_atomic_write_is_fsynced_before_the_rename(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    order = []
    monkeypatch.setattr(files.os, "fsync", lambda fd: order.append("fsync"))
    real_replace = files.os.replace
    monkeypatch.setattr(files.os, "replace",
                        lambda a, b: (order.append("rename"), real_replace(a, b)))
    write_atomic(tmp_path / "a" / "state.json", '{"seq": 1}')
    assert order == ["fsync", "rename"]
    assert (tmp_path / "a" / "state.json").read_text() == '{"seq": 1}'
    assert sha256_of(tmp_path / "a" / "state.json") == hashlib.sha256(b'{"seq": 1}').hexdigest()


def test_manifest_problems_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="manifest.json: missing"):
        manifest_folders(tmp_path)
    assert read_manifest(tmp_path) == {"variants": {}}  # what export starts from
    (tmp_path / "manifest.json").write_text('{"variants": {}}')
    with pytest.raises(ArtifactError, match="no variants listed"):
        manifest_folders(tmp_path)
    (tmp_path / "manifest.json").write_text('{"variants": {"hybrid": {"version": "v"}}}')
    with pytest.raises(ArtifactError, match="'hybrid' has no 'path'"):
        manifest_folders(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        read_manifest(tmp_path)


def test_runs_are_found_newest_last_by_what_they_hold(tmp_path: Path) -> None:
    def run(variant: str, run_id: str, *names: str) -> Path:
        folder = tmp_path / variant / run_id
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).write_text("")
        return folder

    old = run("hybrid", "20250101-000000", WEIGHTS_FILE, METRICS_LOG)
    new = run("hybrid", "20260101-000000", METRICS_LOG, PREDICTIONS_FILE)
    other = run("simplex", "20240101-000000", WEIGHTS_FILE)
    run("simplex", "20270101-000000")  # holds nothing: not a run
    assert latest_run(tmp_path, "hybrid", WEIGHTS_FILE) == old
    assert latest_run(tmp_path, "hybrid", PREDICTIONS_FILE) == new
    assert latest_run(tmp_path, "full", WEIGHTS_FILE) is None
    assert run_folders(tmp_path) == [old, new]  # simplex's run has no config or metrics
    assert run_folders(tmp_path, "simplex", (WEIGHTS_FILE,)) == [other]
    assert run_folders(tmp_path / "absent") == []
