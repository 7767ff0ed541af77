"""Walk-forward folds and a hyperparameter sweep on Ray Tune, over the local training code."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from contract.errors import ArtifactError
from contract.home import resolve_home
from contract.runs import METRICS_LOG, PREDICTIONS_FILE, SUMMARY_FILE
from marketdata.store import BarStore
from scaleout.tune import load_space
from tradecast.cli import app
from training.config import load_profile
from training.dataset import load_market
from training.runs import train_run

PROFILE = load_profile("tiny")


@pytest.fixture(scope="module")
def home(sample_home, tmp_path_factory):
    home = resolve_home(tmp_path_factory.mktemp("ray_training_home"))
    shutil.copytree(sample_home.bars_dir, home.bars_dir)
    return home


def run_written(output: str) -> list[Path]:
    return [Path(line.split("run written to ", 1)[1]) for line in output.splitlines()
            if line.startswith("run written to ")]


def epochs_reported(tune_dir: Path) -> list[int]:
    """Per trial, the results it reported to Tune (one line of result.json each)."""
    return sorted(len(path.read_text().splitlines()) for path in tune_dir.glob("*/result.json"))


def test_ray_walk_forward_equals_the_sequential_run(ray_cluster, home) -> None:
    market = load_market(BarStore(home.bars_dir), PROFILE.data)
    sequential = train_run(home, "simplex", PROFILE, walk_forward=True, market=market,
                           progress=False)
    result = CliRunner().invoke(app, ["train", "--variant", "simplex", "--profile", "tiny",
                                      "--walk-forward", "--engine", "ray",
                                      "--home", str(home.root)])
    assert result.exit_code == 0, result.output
    [on_ray] = run_written(result.output)
    assert on_ray.parent == sequential.parent and on_ray != sequential

    # Each fold's model is seeded afresh and trained on one thread: the same numbers exactly.
    expected, got = (json.loads((run / SUMMARY_FILE).read_text()) for run in (sequential, on_ray))
    assert [f["validation_year"] for f in got["folds"]] == [2015, 2016]
    for mine, theirs in zip(got["folds"], expected["folds"], strict=True):
        assert mine["metrics"] == theirs["metrics"]
        assert {k: v for k, v in mine["fit"].items() if k != "seconds"} == \
            {k: v for k, v in theirs["fit"].items() if k != "seconds"}
    assert got["overall"] == expected["overall"]
    pd.testing.assert_frame_equal(pd.read_parquet(on_ray / PREDICTIONS_FILE),
                                  pd.read_parquet(sequential / PREDICTIONS_FILE), check_exact=True)
    assert (on_ray / "model.safetensors").exists()  # the last fold's model is the run's model

    # One trial per fold, each reporting every epoch; the run's epoch log has them all.
    epochs = sorted(f["fit"]["epochs"] for f in got["folds"])
    assert epochs_reported(on_ray / "ray_tune") == epochs
    log = [json.loads(line) for line in (on_ray / METRICS_LOG).read_text().splitlines()]
    assert sorted(pd.Series([r["fold"] for r in log]).value_counts().tolist()) == epochs

    report = CliRunner().invoke(app, ["train", "report", on_ray.name, "--home", str(home.root)])
    assert report.exit_code == 0 and "2016" in report.output, report.output


def test_tune_sweeps_the_search_space_one_run_per_point(ray_cluster, home) -> None:
    result = CliRunner().invoke(app, ["tune", "tiny", "--home", str(home.root)])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines() if "learning_rate" in line]
    assert sorted(line[1] for line in lines) == ["optim.learning_rate=0.001",
                                                 "optim.learning_rate=0.003"]
    losses = [float(line[0]) for line in lines]
    assert losses == sorted(losses)  # best first
    for loss, run in ((float(line[0]), Path(line[2])) for line in lines):
        summary = json.loads((run / SUMMARY_FILE).read_text())
        assert summary["fit"]["best_val_loss"] == pytest.approx(loss, abs=1e-6)
        saved = json.loads((run / "run_config.json").read_text())["config"]["optim"]
        assert f"optim.learning_rate={saved['learning_rate']}" in " ".join(lines[0] + lines[1])
    sweep_dir = Path(result.output.strip().splitlines()[-1].split(": ", 1)[1])
    # Every trial reported its epochs, then its outcome.
    assert epochs_reported(sweep_dir / "ray_tune") == sorted(
        json.loads((Path(line[2]) / SUMMARY_FILE).read_text())["fit"]["epochs"] + 1
        for line in lines)


def test_ray_training_refuses_a_single_run(home) -> None:
    result = CliRunner().invoke(app, ["train", "--variant", "simplex", "--profile", "tiny",
                                      "--engine", "ray", "--home", str(home.root)])
    assert result.exit_code != 0 and "--walk-forward" in str(result.exception or result.output)


@pytest.mark.parametrize(("text", "problem"), [
    ('variant = "simplex"\n', "[grid]"),
    ('[grid]\n"optim.learning_rate" = []\n', "non-empty lists"),
])
def test_a_bad_search_space_is_refused_naming_the_file(tmp_path, text, problem) -> None:
    path = tmp_path / "space.toml"
    path.write_text(text)
    with pytest.raises(ArtifactError, match=re.escape(problem)) as error:
        load_space(str(path))
    assert str(path) in str(error.value)


def test_a_search_space_is_every_combination_of_its_grid() -> None:
    space = load_space("tiny")
    assert space.points() == [{"optim.learning_rate": str(v)}
                              for v in space.grid["optim.learning_rate"]]
