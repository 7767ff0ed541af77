"""The bar-frame contract: validate_bars normalises good frames and names the row of bad ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contract.errors import BarDataError
from marketdata.bars import BAR_COLUMNS, validate_bars


def make_bars(n: int = 5, start: str = "2020-01-02") -> pd.DataFrame:
    close = 100.0 + np.arange(n)
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=n, freq="D"),
            "open": close - 0.5,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "volume": np.full(n, 1000.0),
        }
    )


def test_clean_frame_gets_the_contract_dtypes_and_order():
    raw = make_bars()[["close", "volume", "timestamp", "low", "open", "high"]]
    raw["volume"] = raw["volume"].astype(int)
    raw["extra"] = "ignored"
    bars = validate_bars(raw, "test")
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert str(bars["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert all(bars[name].dtype == np.float64 for name in BAR_COLUMNS[1:])
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2020-01-02", tz="UTC")


def test_unsorted_rows_are_sorted_and_identical_repeats_kept_once():
    raw = make_bars()
    shuffled = pd.concat([raw.iloc[[3, 1, 4]], raw, raw.iloc[[2]]], ignore_index=True)
    bars = validate_bars(shuffled, "test")
    assert len(bars) == len(raw)
    assert bars["timestamp"].is_monotonic_increasing
    np.testing.assert_array_equal(bars["close"], raw["close"])


def test_timezones_are_converted_to_utc():
    raw = make_bars(2)
    raw["timestamp"] = pd.to_datetime(["2020-01-02 09:30", "2020-01-02 09:31"]).tz_localize(
        "America/New_York"
    )
    bars = validate_bars(raw, "test")
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2020-01-02 14:30", tz="UTC")


@pytest.mark.parametrize(
    ("column", "row", "value", "problem"),
    [
        ("close", 2, -3.0, "close is -3, prices must be positive"),
        ("low", 1, 0.0, "low is 0, prices must be positive"),
        ("open", 3, np.nan, "open is missing"),
        ("close", 1, np.inf, "close is infinite"),
        ("high", 4, "abc", "high 'abc' is not a number"),
        ("volume", 0, -1.0, "volume is -1"),
        ("timestamp", 2, "not a date", "timestamp 'not a date' is not a date"),
    ],
)
def test_bad_values_name_origin_row_and_problem(column, row, value, problem):
    raw = make_bars().astype({column: object})
    raw.loc[row, column] = value
    with pytest.raises(BarDataError) as caught:
        validate_bars(raw, "prices.csv")
    assert str(caught.value).startswith(f"prices.csv, row {row}: {problem}")


def test_missing_column_is_named():
    with pytest.raises(BarDataError, match="prices.csv: missing column 'volume'"):
        validate_bars(make_bars().drop(columns="volume"), "prices.csv")


def test_conflicting_duplicate_is_refused():
    raw = make_bars()
    conflict = raw.iloc[[2]].assign(close=102.5)  # a valid bar, other than row 2
    with pytest.raises(BarDataError, match=r"row 5: timestamp 2020-01-04 .* repeats row 2"):
        validate_bars(pd.concat([raw, conflict], ignore_index=True), "test")


def test_empty_frame_is_refused():
    with pytest.raises(BarDataError, match="test: no bars"):
        validate_bars(make_bars().iloc[:0], "test")


def test_input_frame_is_not_modified():
    raw = make_bars().iloc[::-1]
    before = raw.copy()
    validate_bars(raw, "test")
    pd.testing.assert_frame_equal(raw, before)
