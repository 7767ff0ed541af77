"""README's main job on a fresh home: import, train (tiny profile), export, serve, example."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from contract.home import PROJECT_ROOT
from serving.launch import free_port
from training.models import VARIANTS


def test_demo_builds_everything_from_nothing_then_answers_a_real_request(tmp_path) -> None:
    home = tmp_path / "home"
    command = [sys.executable, "-m", "tradecast", "demo", "--home", str(home), "--profile",
               "tiny", "--port", str(free_port()), "--exit"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout

    manifest = json.loads((home / "exported_models" / "manifest.json").read_text())
    assert set(manifest["variants"]) == set(VARIANTS)
    for variant in VARIANTS:  # trained here, so exported from a checkpoint, not fresh weights
        assert list((home / "checkpoints" / variant).glob("*/model.safetensors"))
        entry = manifest["variants"][variant]
        metadata = json.loads((home / "exported_models" / entry["path"] / "metadata.json")
                              .read_text())
        assert metadata["weights"] == "trained"

    assert f"-d @{home / 'example_predict.json'}" in output
    assert re.search(r"dashboard: http://127\.0\.0\.1:\d+/ui/", output)
    horizons = re.findall(r"(\d+) bars: p\(down/flat/up\) ([\d.]+)/([\d.]+)/([\d.]+)", output)
    assert [int(h) for h, *_ in horizons] == [1, 4, 24]
    for _, *probabilities in horizons:
        assert abs(sum(map(float, probabilities)) - 1) < 0.02

    again = subprocess.run(command[:-3] + ["--port", str(free_port()), "--exit"],
                           capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already exported" in again.stdout  # a second run goes straight to serving
    assert "0 new bars" in again.stdout
