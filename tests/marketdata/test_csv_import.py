"""The CSV importer on every bundled sample file and on each kind of bad file."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contract.errors import BarDataError
from marketdata.csv_import import read_bars_csv

# file -> (bars, first timestamp, last timestamp, has adj_close); from data/sample/README.md
SAMPLE = {
    "aapl.csv.gz": (3379, "2004-08-19", "2018-01-19", True),
    "goog.csv.gz": (3379, "2004-08-19", "2018-01-19", True),
    "intc.csv.gz": (2335, "1995-01-03", "2004-04-08", True),
    "spy.csv.gz": (2519, "2007-12-31", "2017-12-29", True),
    "sp500.csv.gz": (5031, "1999-01-04", "2018-12-31", True),
    "nasdaq.csv.gz": (5031, "1999-01-04", "2018-12-31", True),
    # 1,305 rows, 46 of them holidays marked "." (no bar)
    "vix.csv.gz": (1259, "2014-01-03", "2019-01-03", False),
    # New York 9:30 .. 15:59 in November (EST, UTC-5)
    "sp500_1min_2019-11.csv.gz": (1563, "2019-11-05 14:30", "2019-11-08 20:59", False),
}


def raw_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, na_values=["."])


@pytest.mark.parametrize("file_name", sorted(SAMPLE))
def test_every_sample_file_imports(sample_dir, file_name):
    rows, first, last, has_adj_close = SAMPLE[file_name]
    bars = read_bars_csv(sample_dir / file_name)
    assert len(bars) == rows
    assert bars["timestamp"].iloc[0] == pd.Timestamp(first, tz="UTC")
    assert bars["timestamp"].iloc[-1] == pd.Timestamp(last, tz="UTC")
    assert ("adj_close" in bars) == has_adj_close
    assert bars["timestamp"].is_monotonic_increasing and bars["timestamp"].is_unique


@pytest.mark.parametrize("file_name", ["aapl.csv.gz", "sp500.csv.gz"])
def test_values_match_the_file_column_by_column(sample_dir, file_name):
    raw = raw_csv(sample_dir / file_name)
    bars = read_bars_csv(sample_dir / file_name)
    for ours, theirs in [("open", "Open"), ("high", "High"), ("low", "Low"), ("close", "Close"),
                         ("adj_close", "Adj Close"), ("volume", "Volume")]:
        np.testing.assert_array_equal(bars[ours].to_numpy(), raw[theirs].to_numpy(float))


def test_daily_bars_sit_at_midnight_utc(sample_dir):
    bars = read_bars_csv(sample_dir / "sp500.csv.gz")  # M/D/YYYY dates
    assert (bars["timestamp"] == bars["timestamp"].dt.normalize()).all()
    assert bars["timestamp"].iloc[1] == pd.Timestamp("1999-01-05", tz="UTC")


def test_one_minute_file_reorders_close_high_low(sample_dir):
    raw = raw_csv(sample_dir / "sp500_1min_2019-11.csv.gz")
    bars = read_bars_csv(sample_dir / "sp500_1min_2019-11.csv.gz")
    assert list(raw.columns) == ["Date", "Open", "Close", "High", "Low", "Volume"]
    np.testing.assert_array_equal(bars["high"], raw["High"])
    np.testing.assert_array_equal(bars["close"], raw["Close"])
    assert (bars["volume"] == 0).all()
    assert (bars["high"] >= bars["low"]).all()


def test_one_minute_file_is_new_york_time(sample_dir):
    bars = read_bars_csv(sample_dir / "sp500_1min_2019-11.csv.gz")
    local = bars["timestamp"].dt.tz_convert("America/New_York")
    assert local.dt.strftime("%H:%M").iloc[0] == "09:30"
    assert local.dt.strftime("%H:%M").max() == "16:00"  # the closing print


def test_close_only_vix_gets_flat_bars_and_no_volume(sample_dir):
    raw = raw_csv(sample_dir / "vix.csv.gz").dropna()
    bars = read_bars_csv(sample_dir / "vix.csv.gz")
    np.testing.assert_array_equal(bars["close"], raw["vix"])
    for name in ("open", "high", "low"):
        np.testing.assert_array_equal(bars[name], bars["close"])
    assert (bars["volume"] == 0).all()
    holidays = pd.to_datetime(["2014-01-20", "2014-12-25", "2018-12-05"], utc=True)
    assert not bars["timestamp"].isin(holidays).any()


def write_csv(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD_HEADER = "Date,Open,High,Low,Close,Volume\n"
GOOD_ROWS = "2020-01-02,10,11,9,10.5,100\n2020-01-03,10.5,12,10,11,200\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Date,Open,High,Low,Close\n2020-01-02,10,11,9,10.5\n", "missing column 'volume'"),
        (GOOD_HEADER + GOOD_ROWS + "2020-13-45,10,11,9,10.5,100\n",
         "line 4: cannot read the date '2020-13-45'"),
        (GOOD_HEADER + GOOD_ROWS + "2020-01-06,10,eleven,9,10.5,100\n",
         "line 4: high 'eleven' is not a number"),
        ("", "empty file"),
        (GOOD_HEADER, "no bars"),
        (GOOD_HEADER + "2020-01-02,10,11,9,-10.5,100\n", "line 2: close is -10.5"),
        (GOOD_HEADER + GOOD_ROWS + "2020-01-02,10,11,9,10.7,100\n",
         "line 4: timestamp 2020-01-02 00:00:00+00:00 repeats line 2 with other values"),
        (GOOD_HEADER + "2020-01-02,10,11,,10.5,100\n", "line 2: low is missing"),
    ],
    ids=["missing-column", "bad-date", "text-price", "empty", "header-only", "negative",
         "conflicting-duplicate", "missing-value"],
)
def test_bad_files_name_file_line_and_problem(tmp_path, text, message):
    path = write_csv(tmp_path, text)
    with pytest.raises(BarDataError) as caught:
        read_bars_csv(path)
    text = str(caught.value)
    assert text.startswith(str(path)) and message in text
    assert "\n" not in text


def test_missing_file_is_a_bar_data_error(tmp_path):
    with pytest.raises(BarDataError, match="no such file"):
        read_bars_csv(tmp_path / "absent.csv")


def test_gzip_and_iso_timestamps_with_zone(tmp_path):
    path = tmp_path / "btc.csv.gz"
    with gzip.open(path, "wt") as sink:
        sink.write("timestamp,open,high,low,close,volume\n"
                   "2021-03-01T00:00:00+01:00,1,2,0.5,1.5,3\n")
    bars = read_bars_csv(path)
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2021-02-28 23:00", tz="UTC")
