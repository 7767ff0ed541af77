"""The quality check finds defects planted in real bars, and nothing in the clean sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketdata.csv_import import read_bars_csv
from marketdata.quality import QualityConfig, check_bars


@pytest.fixture(scope="module")
def aapl(sample_dir) -> pd.DataFrame:
    return read_bars_csv(sample_dir / "aapl.csv.gz")


def issues_of(report, kind):
    return [issue for issue in report.issues if issue.kind == kind]


@pytest.mark.parametrize("file_name", ["aapl.csv.gz", "goog.csv.gz", "intc.csv.gz",
                                       "sp500.csv.gz", "nasdaq.csv.gz"])
def test_clean_sample_series_have_no_issues(sample_dir, file_name):
    report = check_bars(read_bars_csv(sample_dir / file_name), file_name, "1d")
    assert report.ok and report.issues == ()
    assert "no issues" in report.text()


def test_spy_sample_has_two_real_open_outside_range_bars(sample_dir):
    # the raw file's values, as the quality check sees raw frames (the importer widens them)
    raw = pd.read_csv(sample_dir / "spy.csv.gz").rename(columns=str.lower)
    raw = raw.rename(columns={"date": "timestamp"}).drop(columns="adj close")
    raw["timestamp"] = pd.to_datetime(raw["timestamp"], utc=True)
    report = check_bars(raw, "SPY", "1d")
    ohlc = [issue for issue in report.issues if issue.kind == "ohlc"]
    assert [str(issue.timestamp.date()) for issue in ohlc] == ["2015-03-05", "2015-03-30"]
    assert {issue.detail.split(": ")[1] for issue in ohlc} == {"open outside [low, high]"}
    assert report.ok and check_bars(read_bars_csv(sample_dir / "spy.csv.gz"), "SPY", "1d").ok


def test_close_only_and_index_series_are_noted_as_volumeless(sample_dir):
    report = check_bars(read_bars_csv(sample_dir / "vix.csv.gz"), "VIX", "1d")
    assert [(issue.kind, issue.severity) for issue in report.issues] == [("zero_volume", "note")]


def test_one_minute_bars_against_the_exchange_minutes(sample_dir):
    bars = read_bars_csv(sample_dir / "sp500_1min_2019-11.csv.gz")
    report = check_bars(bars, "SPX", "1min")
    # The file carries the 16:00 closing print, a minute that XNYS' minute bars do not have.
    off = issues_of(report, "off_calendar")
    assert [issue.timestamp.tz_convert("America/New_York").strftime("%H:%M") for issue in off] \
        == ["16:00"] * 3
    assert not issues_of(report, "gap")
    holed = bars.drop(index=range(100, 110))
    (gap,) = issues_of(check_bars(holed, "SPX", "1min"), "gap")
    assert gap.detail.startswith("10 bar(s) missing") and gap.timestamp == bars["timestamp"][100]


def test_planted_defects_are_each_found_where_planted(aapl):
    bars = aapl.copy()
    stamp = bars["timestamp"]
    bars = bars.drop(index=[100, 101, 102])  # three sessions in a row
    bars.loc[200, "close"] = -1.0
    bars.loc[300, "high"] = bars.loc[300, "low"] - 1.0
    bars.loc[400, "volume"] = np.nan
    bars.loc[1500:1504, "volume"] = 0.0
    bars.loc[2000:, ["open", "high", "low", "close"]] /= 2.0  # an unadjusted 2:1 split
    conflict = bars.loc[[5]].assign(close=bars.loc[5, "close"] + 1.0)
    bars = pd.concat([bars, conflict, bars.loc[[7]]])  # unsorted, one conflicting, one identical

    report = check_bars(bars, "AAPL", "1d")
    assert not report.ok
    found = {kind: [issue.timestamp for issue in issues_of(report, kind)]
             for kind in report.counts()}
    assert found["gap"] == [stamp[100]]
    assert "3 session(s) missing" in issues_of(report, "gap")[0].detail
    assert found["non_positive"] == [stamp[200]]
    assert stamp[300] in found["ohlc"] and stamp[200] in found["ohlc"]
    assert found["nan"] == [stamp[400]]
    assert found["zero_volume"] == [stamp[1500]]
    assert found["split_jump"] == [stamp[2000]]
    assert "2:1 split" in issues_of(report, "split_jump")[0].detail
    assert found["duplicate"] == [stamp[5], stamp[7]]
    severities = {issue.timestamp: issue.severity for issue in issues_of(report, "duplicate")}
    assert severities == {stamp[5]: "error", stamp[7]: "warning"}
    assert found["unsorted"]
    text = report.text()
    assert "NOT USABLE" in text and "3 session(s) missing" in text


def test_zero_volume_run_length_is_configurable(aapl):
    bars = aapl.copy()
    bars.loc[10:11, "volume"] = 0.0
    assert not issues_of(check_bars(bars, "AAPL", "1d"), "zero_volume")
    config = QualityConfig(zero_volume_run=2)
    assert len(issues_of(check_bars(bars, "AAPL", "1d", config), "zero_volume")) == 1


def test_crypto_gaps_use_a_calendar_that_never_closes():
    hours = pd.date_range("2024-01-06", periods=48, freq="h", tz="UTC")  # a weekend
    bars = pd.DataFrame({"timestamp": hours, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0,
                         "volume": 5.0})
    assert check_bars(bars, "BTC/USDT", "1h", QualityConfig(calendar="24/7")).issues == ()
    holed = bars.drop(index=[20])
    (gap,) = check_bars(holed, "BTC/USDT", "1h", QualityConfig(calendar="24/7")).issues
    assert gap.kind == "gap" and gap.timestamp == hours[20]
    # The stock calendar would call every one of these bars off-calendar.
    assert len(issues_of(check_bars(bars, "X", "1h"), "off_calendar")) == 48
