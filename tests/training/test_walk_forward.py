"""Walk-forward: yearly folds with an embargo, one model per fold, stitched predictions, report."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from contract.home import resolve_home
from contract.runs import PREDICTIONS_FILE
from contract.walk_forward import BASELINES
from features.labels import HORIZONS
from marketdata.store import BarStore
from tradecast.cli import app
from training.config import apply_overrides, load_profile
from training.dataset import load_market
from training.runs import train_run
from training.walk_forward import make_folds

PROFILE = load_profile("tiny")


@pytest.fixture(scope="module")
def home(sample_home, tmp_path_factory):
    """A writable home holding a copy of the sample bars."""
    home = resolve_home(tmp_path_factory.mktemp("walk_forward_home"))
    shutil.copytree(sample_home.bars_dir, home.bars_dir)
    return home


@pytest.fixture(scope="module")
def market(home):
    return load_market(BarStore(home.bars_dir), PROFILE.data)


@pytest.fixture(scope="module")
def run_dir(home, market):
    return train_run(home, "simplex", PROFILE, walk_forward=True, market=market, progress=False)


def test_yearly_folds_leave_an_embargo_before_validation(market) -> None:
    config = load_profile("quick")  # validation years 2008 onwards
    folds = make_folds(market, config, walk_forward=True)
    assert [fold.validation_year for fold in folds] == list(range(2008, 2018))
    timeline = np.unique(market.sample_timestamps.asi8)
    for fold in folds:
        stamps = market.sample_timestamps
        assert (stamps[fold.train_mask].year < fold.validation_year).all()
        assert (stamps[fold.validation_mask].year == fold.validation_year).all()
        # Every training label (24 bars ahead) ends, then `embargo` more steps pass.
        between = (timeline > fold.train_end.value) & (timeline < fold.validation_start.value)
        assert between.sum() >= max(HORIZONS) + config.data.embargo


def test_every_fold_predicts_its_own_year_for_the_model_and_every_baseline(run_dir) -> None:
    predictions = pd.read_parquet(run_dir / PREDICTIONS_FILE)
    expected = ["timestamp", "symbol", "fold", "model"] + [
        f"{kind}_{h}"
        for h in HORIZONS
        for kind in ("p_down", "p_flat", "p_up", "ret_pred", "vol_pred")
    ]
    assert list(predictions.columns) == expected
    assert set(predictions["model"]) == {"simplex", *BASELINES}
    years = predictions.groupby("fold")["timestamp"].agg(lambda t: set(t.dt.year))
    assert years.to_dict() == {0: {2015}, 1: {2016}}
    assert not predictions.duplicated(["model", "symbol", "timestamp"]).any()
    for _, series in predictions.groupby(["model", "symbol"]):
        assert series["timestamp"].is_monotonic_increasing  # stitched in time order
    for h in HORIZONS:
        total = predictions[[f"p_down_{h}", f"p_flat_{h}", f"p_up_{h}"]].sum(axis=1)
        np.testing.assert_allclose(total, 1.0, atol=1e-5)


def test_summary_has_fold_metrics_without_leak_signs_and_plots(run_dir) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [fold["validation_year"] for fold in summary["folds"]] == [2015, 2016]
    assert set(summary["overall"]) == {"simplex", "simplex (raw)", *BASELINES}
    for fold in summary["folds"]:
        for metrics in fold["metrics"].values():
            assert metrics["accuracy_1"] < 0.6  # a daily 1-bar accuracy above this is a leak
            assert metrics["ic_1"] is None or metrics["ic_1"] < 0.2
    assert summary["training_span"]["end"] < summary["validation_span"]["start"]
    assert (run_dir / "folds.png").stat().st_size > 0
    assert (run_dir / "loss_curves.png").stat().st_size > 0
    assert (run_dir / "model.safetensors").exists()  # the last fold's model is the run's model


def test_report_prints_the_fold_table(run_dir, home) -> None:
    result = CliRunner().invoke(app, ["train", "report", run_dir.name, "--home", str(home.root)])
    assert result.exit_code == 0, result.output
    for name in (*BASELINES, "simplex", "2015", "2016", "overall"):
        assert name in result.output


def test_resuming_a_finished_run_keeps_every_fold(run_dir, home, market) -> None:
    before = pd.read_parquet(run_dir / PREDICTIONS_FILE)
    train_run(home, "simplex", PROFILE, walk_forward=True, run_dir=run_dir, market=market)
    pd.testing.assert_frame_equal(pd.read_parquet(run_dir / PREDICTIONS_FILE), before)


def test_held_out_symbol_folds_validate_only_on_symbols_never_trained_on(market) -> None:
    config = apply_overrides(load_profile("quick"), {"scheme": "symbols",
                                                     "holdout_symbols": "SPY"})
    folds = make_folds(market, config, walk_forward=True)
    yearly = make_folds(market, load_profile("quick"), walk_forward=True)
    assert [f.validation_year for f in folds] == [f.validation_year for f in yearly]
    symbols = np.asarray(market.sample_symbols)
    for fold, same_year in zip(folds, yearly, strict=True):
        assert set(symbols[fold.validation_mask]) == {"SPY"}
        assert "SPY" not in set(symbols[fold.train_mask])
        # The yearly fold's time rules (purge, embargo, the past only) still hold.
        assert not (fold.train_mask & ~same_year.train_mask).any()
        assert fold.train_end < fold.validation_start


def test_train_selects_the_fold_scheme_from_the_command_line(home) -> None:
    def train(folds: str) -> object:
        return CliRunner().invoke(app, [
            "train", "--variant", "simplex", "--profile", "tiny", "--walk-forward", "--folds",
            folds, "--set", "holdout_symbols=SPY", "--home", str(home.root),
        ])

    result = train("nonsense")
    assert "walk_forward.scheme 'nonsense'" in str(result.exception)
    result = train("symbols")
    assert result.exit_code == 0, result.output
    run_dir = result.output.rsplit("run written to ", 1)[-1].strip()
    predictions = pd.read_parquet(f"{run_dir}/{PREDICTIONS_FILE}")
    assert set(predictions["symbol"]) == {"SPY"}  # tiny trains on AAPL, validates on SPY
