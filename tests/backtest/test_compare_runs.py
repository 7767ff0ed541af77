"""`tradecast train compare`: two walk-forward runs of one variant on their shared windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from backtest.compare_runs import compare_runs
from contract.errors import ArtifactError
from contract.home import Home
from contract.runs import PREDICTIONS_FILE
from features.labels import make_labels
from tradecast.cli import app

HORIZONS = (1, 4, 24)


def write_run(folder: Path, bars: dict[str, pd.DataFrame], model: str, skill: float,
              seed: int) -> Path:
    """A run's predictions from real bars: probability ``0.34 + skill`` (plus noise) on the
    realised direction, the rest shared by the other two."""
    rng = np.random.default_rng(seed)
    frames = []
    for symbol, frame in bars.items():
        labels = make_labels(frame, HORIZONS)
        rows = pd.DataFrame({"timestamp": frame["timestamp"], "symbol": symbol, "model": model,
                             "fold": frame["timestamp"].dt.year - 2010})
        for h in HORIZONS:
            direction = labels[f"dir_{h}"].fillna(1).to_numpy().astype(int)
            weight = np.clip(0.34 + skill + rng.normal(0, 0.03, len(rows)), 0.05, 0.9)
            other = (1 - weight) / 2
            probabilities = np.repeat(other[:, None], 3, axis=1)
            probabilities[np.arange(len(rows)), direction] = weight
            rows[f"p_down_{h}"], rows[f"p_flat_{h}"], rows[f"p_up_{h}"] = probabilities.T
            rows[f"ret_pred_{h}"] = rng.normal(0, 0.01, len(rows))
            rows[f"vol_pred_{h}"] = 0.02
            rows[f"ret_{h}"], rows[f"dir_{h}"] = labels[f"ret_{h}"], labels[f"dir_{h}"]
            rows[f"vol_{h}"] = labels[f"vol_{h}"]
        frames.append(rows[labels[f"dir_{max(HORIZONS)}"].notna().to_numpy()])
    folder.mkdir(parents=True)
    pd.concat(frames, ignore_index=True).to_parquet(folder / PREDICTIONS_FILE)
    return folder


@pytest.fixture(scope="module")
def bars(sample_home: Home) -> dict[str, pd.DataFrame]:
    frames = {s: pd.read_parquet(sample_home.bars_dir / "1d" / f"{s}.parquet")
              for s in ("AAPL", "GOOG")}
    return {s: f[(f["timestamp"] >= "2012-01-01") & (f["timestamp"] < "2015-01-01")]
            .reset_index(drop=True) for s, f in frames.items()}


def test_a_candidate_is_judged_on_the_paired_log_loss_gap(bars, sample_home, tmp_path) -> None:
    bars_dir = sample_home.bars_dir
    reference = write_run(tmp_path / "ref", bars, "hybrid", skill=0.0, seed=0)
    alike = write_run(tmp_path / "alike", bars, "hybrid", skill=0.0, seed=0)  # the same run
    better = write_run(tmp_path / "better", bars, "hybrid", skill=0.2, seed=2)
    worse = write_run(tmp_path / "worse", bars, "hybrid", skill=-0.2, seed=3)

    same = compare_runs(reference, alike, bars_dir, resamples=300)
    assert same["no_worse"] and same["windows"] > 1000
    assert all(row["log_loss_gap"] == [0.0, 0.0, 0.0] for row in same["horizons"])
    gained = compare_runs(reference, better, bars_dir, resamples=300)
    assert gained["no_worse"]
    assert all(row["log_loss_gap"][2] < 0 for row in gained["horizons"])
    assert all(row["balanced_accuracy"][1] > row["balanced_accuracy"][0]
               for row in gained["horizons"])
    lost = compare_runs(reference, worse, bars_dir, resamples=300)
    assert not lost["no_worse"]
    assert all(row["log_loss_gap"][1] > 0 for row in lost["horizons"])


def test_the_command_prints_the_table_and_refuses_different_variants(
    bars, sample_home, tmp_path
) -> None:
    bars_dir = sample_home.bars_dir
    reference = write_run(tmp_path / "ref", bars, "hybrid", skill=0.0, seed=0)
    candidate = write_run(tmp_path / "cand", bars, "hybrid", skill=0.1, seed=4)
    other = write_run(tmp_path / "other", bars, "simplex", skill=0.0, seed=5)
    out = tmp_path / "table.md"
    result = CliRunner().invoke(app, ["train", "compare", str(reference), str(candidate),
                                      "--out", str(out), "--home", str(sample_home.root)])
    assert result.exit_code == 0, result.output
    assert "| 24 |" in result.output and out.read_text() in result.output + "\n"
    with pytest.raises(ArtifactError, match="simplex run"):
        compare_runs(reference, other, bars_dir)
