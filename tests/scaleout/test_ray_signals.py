"""Batch signals on Ray Data equal the local batch signals exactly."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from contract.home import Home
from serving.batch import generate_signals
from tests.serving.helpers import make_home
from tradecast.cli import app

SYMBOLS = ["AAPL", "GOOG", "INTC", "SPY"]
START = "2016-01-01"


def sorted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["symbol", "timestamp"], kind="stable").reset_index(drop=True)


def test_ray_signals_equal_local_signals_exactly(
    ray_cluster, exported_home: Home, sample_home: Home, tmp_path
) -> None:
    home = make_home(tmp_path / "home", exported_home, sample_home, variants=("simplex",))
    local = generate_signals(home.root, tmp_path / "local.parquet", symbols=SYMBOLS,
                             start=pd.Timestamp(START).to_pydatetime(), variant="simplex")
    # One symbol per task: every actor call sees other model batches than the local run did.
    result = CliRunner().invoke(app, [
        "signals", "--engine", "ray", "--symbols", ",".join(SYMBOLS), "--start", START,
        "--variant", "simplex", "--out", str(tmp_path / "ray"), "--home", str(home.root),
        "--symbols-per-task", "1",
    ])
    assert result.exit_code == 0, result.output
    assert "signals for 3 symbols" in result.output  # INTC's bars end in 2004
    on_ray = pd.read_parquet(tmp_path / "ray")
    assert set(on_ray["symbol"]) == {"AAPL", "GOOG", "SPY"} and len(on_ray) == len(local) > 0
    pd.testing.assert_frame_equal(sorted_frame(on_ray), sorted_frame(local), check_exact=True)


def test_ray_signals_refuse_a_folder_that_holds_files(tmp_path, sample_home: Home) -> None:
    out = tmp_path / "old_run"
    out.mkdir()
    (out / "part-0.parquet").write_bytes(b"rows of an earlier run")
    result = CliRunner().invoke(app, ["signals", "--engine", "ray", "--symbols", "AAPL",
                                      "--out", str(out), "--home", str(sample_home.root)])
    assert result.exit_code != 0 and "not empty" in str(result.exception)
    assert (out / "part-0.parquet").read_bytes() == b"rows of an earlier run"
