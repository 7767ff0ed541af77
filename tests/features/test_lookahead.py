"""The look-ahead checker: the real engine passes it, and planted leaks are caught."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from contract.errors import BarDataError
from features.engine import compute_features
from features.lookahead import check_lookahead
from marketdata.csv_import import read_bars_csv
from tradecast.cli import app

CHECKS = {"bars truncated", "bars perturbed", "context truncated", "context perturbed", "selection"}


@pytest.fixture(scope="module")
def aapl(sample_dir) -> pd.DataFrame:
    return read_bars_csv(sample_dir / "aapl.csv.gz")


@pytest.fixture(scope="module")
def context(sample_dir) -> dict[str, pd.DataFrame]:
    """SPY (from 2008) and VIX (from 2014, close only): both start after AAPL."""
    return {name: read_bars_csv(sample_dir / f"{name.lower()}.csv.gz") for name in ("SPY", "VIX")}


def test_engine_with_context_passes(aapl, context):
    report = check_lookahead(aapl, context, cuts=4, series="AAPL")
    assert report.passed, report.format()
    assert {result.check for result in report.results} == CHECKS
    assert len(report.results) == 4 * len(CHECKS)
    cuts = sorted({result.cut for result in report.results})
    assert len(cuts) == 4 and cuts[0] > aapl["timestamp"].iloc[0]
    assert cuts[-1] < aapl["timestamp"].iloc[-1]
    assert "passed" in report.format() and "AAPL" in report.format()


def test_minute_bars_without_volume_pass(sample_dir):
    minutes = read_bars_csv(sample_dir / "sp500_1min_2019-11.csv.gz")
    report = check_lookahead(minutes, cuts=2)
    assert report.passed, report.format()


def test_a_feature_reading_the_next_bar_is_caught(aapl, context):
    def leaky(bars, context=None):
        frame = compute_features(bars, context)
        return frame.assign(next_close=bars["close"].shift(-1).to_numpy())

    report = check_lookahead(aapl, context, cuts=3, compute=leaky)
    assert not report.passed
    assert report.leaking_columns == ["next_close"]
    failed = {result.check for result in report.results if not result.passed}
    assert failed == {"bars truncated", "bars perturbed"}
    assert "LEAK in next_close" in report.format()


def test_a_context_join_taking_the_next_context_bar_is_caught(aapl, context):
    def forward_join(bars, context=None):
        frame = compute_features(bars, context)
        spy = context["SPY"][["timestamp", "close"]].rename(columns={"close": "spy_next"})
        later = spy.assign(timestamp=spy["timestamp"] - pd.Timedelta(days=1))
        joined = pd.merge_asof(frame[["timestamp"]], later, on="timestamp")
        return frame.assign(spy_next=joined["spy_next"].to_numpy())

    report = check_lookahead(aapl, context, cuts=3, compute=forward_join)
    failed = {result.check for result in report.results if not result.passed}
    assert failed == {"context truncated", "context perturbed"}
    assert report.leaking_columns == ["spy_next"]


def test_too_short_a_series_is_refused(aapl):
    with pytest.raises(BarDataError, match="at least 3 bars"):
        check_lookahead(aapl.iloc[:1])


def test_cli_prints_the_report(sample_dir, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "features", "check-lookahead", "--bars", str(sample_dir / "goog.csv.gz"),
            "--context", f"spy={sample_dir / 'spy.csv.gz'}", "--cuts", "2",
            "--home", str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "context: SPY" in result.output and "context perturbed" in result.output
    assert "passed: 10 checks" in result.output


def test_cli_checks_minute_bars_against_daily_context(sample_dir, tmp_path):
    from marketdata.csv_import import read_bars_csv
    from tests.features.test_known_at import daily_from

    minutes = sample_dir / "sp500_1min_2019-11.csv.gz"
    daily = daily_from(read_bars_csv(minutes)).drop(columns="known_at")
    daily["timestamp"] = daily["timestamp"].dt.strftime("%Y-%m-%d")
    daily.to_csv(tmp_path / "spx_daily.csv", index=False)
    result = CliRunner().invoke(app, [
        "features", "check-lookahead", "--bars", str(minutes), "--cuts", "4",  # mid-session cuts
        "--context", f"SPY={tmp_path / 'spx_daily.csv'}", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "context truncated" in result.output and "passed: 20 checks" in result.output
