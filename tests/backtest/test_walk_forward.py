"""Walk-forward mode: predictions files -> signal rule -> one table of models and baselines.

The predictions are made here from the real sample bars in the documented parquet format: a
"hybrid" that knows the future (it must win), and the three baselines' kinds of forecasts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from backtest.walk_forward import (
    PREDICTIONS_FILE,
    load_walk_forward,
    read_predictions,
    signals_from_predictions,
    with_combined,
)
from contract.errors import ArtifactError
from contract.home import Home, resolve_home
from features.labels import make_labels
from policy.signal_rule import SignalRuleConfig
from tradecast.cli import app

HORIZONS = (1, 4, 24)
SYMBOLS = ("AAPL", "GOOG")


def forecasts(bars: pd.DataFrame, symbol: str, model: str, seed: int) -> pd.DataFrame:
    labels = make_labels(bars, HORIZONS)
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"timestamp": bars["timestamp"], "symbol": symbol, "model": model})
    frame["fold"] = frame["timestamp"].dt.year - 2010
    for h in HORIZONS:
        if model == "hybrid":  # peeks at the label: the best a model could do
            expected = labels[f"ret_{h}"].fillna(0.0).to_numpy()
        elif model == "always_up":
            expected = np.full(len(bars), 0.0008 * h)
        elif model == "momentum":
            expected = np.sign(bars["close"].pct_change(h).fillna(0.0).to_numpy()) * 0.01 * h
        else:  # "linear": noise
            expected = rng.normal(0.0, 0.01 * np.sqrt(h), len(bars))
        up = np.where(expected > 0, 0.7, 0.1)
        frame[f"p_down_{h}"], frame[f"p_flat_{h}"], frame[f"p_up_{h}"] = 0.8 - up, 0.2, up
        frame[f"ret_pred_{h}"] = expected
        frame[f"vol_pred_{h}"] = 0.02
    return frame


@pytest.fixture(scope="module")
def wf_home(sample_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A home sharing the sample's bar store, with hybrid and simplex walk-forward runs."""
    home = resolve_home(tmp_path_factory.mktemp("wf_home"))
    home.data_dir.mkdir()
    home.bars_dir.symlink_to(sample_home.bars_dir)
    bars = {s: pd.read_parquet(sample_home.bars_dir / "1d" / f"{s}.parquet") for s in SYMBOLS}
    for variant in ("hybrid", "simplex"):
        frames = [
            forecasts(b[(b["timestamp"] >= "2010-01-01") & (b["timestamp"] < "2014-01-01")],
                      s, model, seed)
            for seed, (s, b) in enumerate(bars.items())
            for model in (variant, "always_up", "momentum", "linear")
        ]
        run_dir = home.checkpoints_dir / variant / "20260101-000000-wf"
        run_dir.mkdir(parents=True)
        pd.concat(frames, ignore_index=True).to_parquet(run_dir / PREDICTIONS_FILE)
    return home


@pytest.fixture(scope="module")
def wf_report(wf_home: Home, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("wf_report")
    result = CliRunner().invoke(app, ["backtest", "--walk-forward", "--variant", "hybrid",
                                      "--out", str(out), "--home", str(wf_home.root)])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_every_model_and_baseline_lands_in_one_table(wf_report):
    out, printed = wf_report
    metrics = json.loads((out / "metrics.json").read_text())
    table = metrics["comparison"]
    assert set(table) == {"hybrid", "simplex", "always_up", "momentum", "linear", "buy_and_hold"}
    for name in table:
        assert name in printed
    assert "hybrid by walk-forward fold" in printed
    # The peeking model beats every baseline net of costs; the noise model loses to costs.
    assert table["hybrid"]["sharpe"] > max(table[b]["sharpe"] for b in ("always_up", "momentum",
                                                                        "linear", "buy_and_hold"))
    assert table["linear"]["costs_fraction"] > 0
    hybrid = metrics["runs"]["hybrid"]
    assert set(hybrid["folds"]) == {"0", "1", "2", "3"}
    assert set(hybrid["symbols"]) == set(SYMBOLS)
    for name in ("equity.png", "drawdown.png", "monthly_returns.png", "rolling_sharpe.png",
                 "comparison.png", "trades.csv", "equity.csv"):
        assert (out / name).stat().st_size > 0


def test_the_report_files_hold_what_they_say(wf_report):
    out, _ = wf_report
    trades = pd.read_csv(out / "trades.csv")
    assert list(trades.columns[:6]) == ["timestamp", "symbol", "side", "quantity", "price", "cost"]
    assert set(trades["side"]) == {"buy", "sell"} and (trades["quantity"] > 0).all()
    equity = pd.read_csv(out / "equity.csv")
    assert {"equity", "drawdown", "buy_and_hold_equity", "fold"} <= set(equity.columns)
    costs = json.loads((out / "metrics.json").read_text())["runs"]["hybrid"]["portfolio"]
    assert trades["cost"].sum() == pytest.approx(costs["total_costs"])


def test_a_missing_walk_forward_run_is_named(wf_home, tmp_path):
    result = CliRunner().invoke(app, ["backtest", "--walk-forward", "--variant", "full",
                                      "--out", str(tmp_path), "--home", str(wf_home.root)])
    assert isinstance(result.exception, ArtifactError)
    message = str(result.exception)
    assert "no walk-forward run for 'full'" in message and "hybrid (20260101-000000-wf)" in message


def test_combined_is_the_mean_of_the_variants(wf_home):
    predictions = load_walk_forward(wf_home.checkpoints_dir, "combined")
    combined = with_combined(predictions)
    rows = combined.set_index(["model", "symbol", "timestamp"])["ret_pred_4"]
    stamp = predictions["timestamp"].iloc[100]
    mean = (rows[("hybrid", "AAPL", stamp)] + rows[("simplex", "AAPL", stamp)]) / 2
    assert rows[("combined", "AAPL", stamp)] == pytest.approx(mean)
    signals = signals_from_predictions(combined, SignalRuleConfig())
    assert set(signals) == {"combined", "hybrid", "simplex", "always_up", "momentum", "linear"}
    assert signals["combined"]["position"].abs().max() == 1.0
    with pytest.raises(ArtifactError, match="no walk-forward run for 'ensemble'"):
        load_walk_forward(wf_home.checkpoints_dir, "ensemble")  # the variant, never the mix


def test_predictions_with_a_hole_are_refused_naming_the_row(wf_home, tmp_path):
    path = wf_home.checkpoints_dir / "hybrid" / "20260101-000000-wf" / PREDICTIONS_FILE
    frame = pd.read_parquet(path)
    frame.loc[7, "ret_pred_4"] = np.nan
    frame.to_parquet(tmp_path / PREDICTIONS_FILE)
    with pytest.raises(ArtifactError, match=r"row 7 \(hybrid AAPL .*ret_pred_4 is missing"):
        read_predictions(tmp_path / PREDICTIONS_FILE)


def test_the_one_page_report_flags_the_peeking_model_as_a_leak_and_noise_as_no_edge(wf_report):
    out, printed = wf_report
    page = (out / "report.md").read_text()
    numbers = json.loads((out / "skill.json").read_text())
    assert f"Walk-forward report: {out / 'report.md'}" in printed
    hybrid, noise = numbers["models"]["hybrid"], numbers["models"]["linear"]
    # Knowing the future is not a success: it is flagged, in the numbers and on the page.
    assert hybrid["metrics"]["ic_1"] > 0.2 and hybrid["warnings"]
    assert "PROBABLE LEAK, not a success** — `hybrid`" in page
    assert "`linear`" not in page.split("## Leak alarm")[1].split("##")[0]
    assert noise["ic"]["1"]["covers_zero"] and not hybrid["ic"]["1"]["covers_zero"]
    sharpe = numbers["sharpe_vs_buy_and_hold"]
    assert set(sharpe) == {"hybrid", "simplex", "always_up", "momentum", "linear"}
    for edge in sharpe.values():  # the words follow the interval
        assert (edge["verdict"] == "indistinguishable from the baseline") == edge["covers_zero"]
        assert edge["low"] <= edge["estimate"] <= edge["high"]
    assert "| indistinguishable from the baseline |" in page
    for model in ("hybrid", "simplex", "always_up", "momentum", "linear", "buy_and_hold"):
        assert f"| {model} |" in page
    for name in ("reliability_1.png", "reliability_4.png", "reliability_24.png",
                 "deciles_returns.png", "deciles_volatility.png", "intervals.png"):
        assert (out / name).stat().st_size > 0 and f"({name})" in page
