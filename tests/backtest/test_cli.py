"""`tradecast backtest --signals FILE`: the report folder, the options, and errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from contract.errors import BarDataError, TradecastError
from tests.backtest.helpers import make_signals
from tradecast.cli import app


@pytest.fixture(scope="module")
def signal_file(sample_bars, tmp_path_factory) -> str:
    frames = []
    for symbol in ("AAPL", "INTC"):
        bars = sample_bars[symbol]
        bars = bars[(bars["timestamp"] >= "2003-01-01") & (bars["timestamp"] < "2006-01-01")]
        trend = np.sign(bars["close"].pct_change(30).fillna(0.0).to_numpy())
        frames.append(make_signals(bars, symbol, trend))
    signals = pd.concat(frames).sort_values("timestamp", kind="stable")
    path = tmp_path_factory.mktemp("signals") / "trend.csv"
    signals.to_csv(path, index=False)
    return str(path)


def backtest(*arguments: str):
    return CliRunner().invoke(app, ["backtest", *arguments])


def test_a_signal_file_gives_the_report_and_the_table(signal_file, sample_home, tmp_path):
    result = backtest("--signals", signal_file, "--out", str(tmp_path), "--home",
                      str(sample_home.root), "--universe", "sample", "--slippage-bps", "5",
                      "--commission", "0.0005", "--max-position", "0.8", "--fill", "next_close")
    assert result.exit_code == 0, result.output
    assert "trend" in result.output and "buy_and_hold" in result.output

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["main"] == "trend"
    trades = pd.read_csv(tmp_path / "trades.csv", parse_dates=["timestamp"])
    rate = 5 / 10_000 + 0.0005
    assert np.allclose(trades["cost"], trades["quantity"] * trades["price"] * rate)
    # INTC's universe entry ends 2004-04-08: closed there at its last close.
    intc = trades[trades["symbol"] == "INTC"]
    assert intc["timestamp"].max() == pd.Timestamp("2004-04-08", tz="UTC")
    assert (intc["reason"] == "delisted").sum() <= 1
    first = trades.iloc[0]  # from flat, sized on the starting capital: 0.8 x 1/2 of it
    assert first["quantity"] * first["price"] == pytest.approx(0.8 / 2 * 1_000_000)
    assert metrics["runs"]["trend"]["portfolio"]["trades"] == len(trades)


def test_bad_rows_and_bad_options_are_refused(signal_file, sample_home, tmp_path):
    frame = pd.read_csv(signal_file)
    frame.loc[5, "position"] = 2.0
    frame.to_csv(tmp_path / "bad.csv", index=False)
    result = backtest("--signals", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "out"),
                      "--home", str(sample_home.root))
    assert isinstance(result.exception, BarDataError)
    assert "row 5" in str(result.exception) and "position 2.0" in str(result.exception)
    assert not (tmp_path / "out" / "metrics.json").exists()

    result = backtest("--out", str(tmp_path), "--home", str(sample_home.root))
    assert isinstance(result.exception, TradecastError)
    assert "either --signals FILE or --walk-forward" in str(result.exception)
    result = backtest("--signals", signal_file, "--out", str(tmp_path), "--fill", "same_close",
                      "--home", str(sample_home.root))
    assert isinstance(result.exception, TradecastError) and "next_open" in str(result.exception)


def test_the_backtest_package_imports_neither_torch_nor_training():
    code = ("import sys, backtest.runner, backtest.walk_forward, policy.signal_rule; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'training')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
