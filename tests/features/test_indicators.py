"""The contract every indicator column passes, on every real sample series.

- batch and streaming agree to 1e-9 (relative) on every column;
- the warm-up is exactly the declared number of leading NaN rows, and no NaN or inf follows;
- no look-ahead: features of ``bars[:t]`` equal the full series' rows before ``t``, and
  changing bars after ``t`` changes nothing at or before ``t``;
- bad input gets a :class:`BarDataError`; zero volume and a single bar are handled.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from contract.errors import BarDataError
from contract.home import SAMPLE_DATA_DIR
from features.engine import (
    FEATURE_SPECS,
    MAX_WARMUP,
    compute_features,
    feature_names,
)
from features.indicators.program import Graph
from features.replay import stream_features
from marketdata.csv_import import read_bars_csv

SERIES = sorted(path.name for path in SAMPLE_DATA_DIR.glob("*.csv.gz"))
DAILY_CONTEXT = {"SPY": "spy.csv.gz", "QQQ": "nasdaq.csv.gz", "VIX": "vix.csv.gz",
                 "SECTOR": "sp500.csv.gz"}
BAR_COLUMNS = feature_names()
OWN_COLUMNS = [name for name, spec in FEATURE_SPECS.items() if spec.fill_missing is None]


@pytest.fixture(scope="module")
def bars() -> dict[str, pd.DataFrame]:
    return {name: read_bars_csv(SAMPLE_DATA_DIR / name) for name in SERIES}


def context_for(name: str, bars: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Daily series get the daily market context; the 1-minute series gets none."""
    return {} if "1min" in name else {key: bars[file] for key, file in DAILY_CONTEXT.items()}


@pytest.fixture(scope="module")
def batch(bars) -> dict[str, pd.DataFrame]:
    return {name: compute_features(bars[name], context_for(name, bars)) for name in SERIES}


def assert_same(ours: pd.DataFrame, expected: pd.DataFrame, relative: float = 1e-9) -> None:
    """Same NaN positions and values within ``relative`` on every column."""
    assert list(ours.columns) == list(expected.columns)
    a, b = ours[BAR_COLUMNS].to_numpy(), expected[BAR_COLUMNS].to_numpy()
    assert a.shape == b.shape
    nan_differs = np.isnan(a) != np.isnan(b)
    assert not nan_differs.any(), f"NaN differs in {BAR_COLUMNS[np.argwhere(nan_differs)[0][1]]}"
    error = np.abs(a - b) / np.maximum(np.abs(b), 1e-300)
    error[np.isnan(a) | (a == b)] = 0.0
    row, column = np.unravel_index(np.argmax(error), error.shape)
    assert error[row, column] <= relative, f"{BAR_COLUMNS[column]} row {row}: {a[row, column]}"


def test_catalogue_names_and_definitions():
    names = feature_names()
    assert 55 <= len(names) <= 75
    required = {"rsi_14", "ema_20", "sma_20", "macd", "macd_signal", "macd_hist", "atr_14",
                "adx_14", "bb_upper_20", "bb_lower_20", "stoch_k_14", "stoch_d_14", "obv",
                "vwap"}
    assert required <= set(names)
    for spec in FEATURE_SPECS.values():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", spec.name), spec.name
        assert spec.definition and "\n" not in spec.definition
        assert spec.group in {"price", "trend", "momentum", "volatility", "volume", "calendar",
                              "context"}
    assert MAX_WARMUP == max(spec.warmup for spec in FEATURE_SPECS.values()) <= 60


@pytest.mark.parametrize("series", SERIES)
def test_batch_equals_stream(bars, batch, series):
    streamed = stream_features(bars[series], context_for(series, bars))
    assert_same(streamed, batch[series])


@pytest.mark.parametrize("name", OWN_COLUMNS)
def test_warmup_is_declared_and_nothing_missing_after(batch, name):
    warmup = FEATURE_SPECS[name].warmup
    for series, frame in batch.items():
        column = frame[name].to_numpy()
        assert np.isnan(column[:warmup]).all(), f"{series}: values inside the warm-up"
        assert np.isfinite(column[warmup:]).all(), f"{series}: NaN or inf after the warm-up"


def test_no_inf_anywhere(batch):
    for series, frame in batch.items():
        assert not np.isinf(frame[BAR_COLUMNS].to_numpy()).any(), series


@pytest.mark.parametrize("series", SERIES)
def test_truncated_history_gives_the_same_rows(bars, batch, series):
    """Features at row t never read a bar after t: cutting the series changes no earlier row."""
    full, context = bars[series], context_for(series, bars)
    for cut in np.linspace(1, len(full) - 1, 4).astype(int):
        part = compute_features(full.iloc[:cut].reset_index(drop=True), context)
        assert_same(part, batch[series].iloc[:cut].reset_index(drop=True), relative=0.0)


@pytest.mark.parametrize("series", SERIES)
def test_changing_later_bars_changes_nothing_before(bars, batch, series):
    full, context = bars[series], context_for(series, bars)
    generator = np.random.default_rng(7)
    cut = int(generator.integers(MAX_WARMUP, len(full) - 10))
    changed = full.copy()
    scale = generator.uniform(0.5, 1.5, size=len(full) - cut - 1)
    for name in ("open", "high", "low", "close"):
        changed.loc[cut + 1 :, name] *= scale
    changed.loc[cut + 1 :, "volume"] *= generator.uniform(0.0, 3.0, size=len(scale))
    after = compute_features(changed, context)
    assert_same(after.iloc[: cut + 1], batch[series].iloc[: cut + 1], relative=0.0)
    assert not after.iloc[cut + 1 :].equals(batch[series].iloc[cut + 1 :])


def test_zero_volume_gives_defined_values(batch):
    """The 1-minute index bars have no volume: neutral values, never a division by zero."""
    frame = batch["sp500_1min_2019-11.csv.gz"]
    after = frame.iloc[MAX_WARMUP:]
    assert (after["obv"] == 0).all()
    assert (after["volume_z_20"] == 0).all() and (after["volume_ratio_20"] == 1).all()
    assert (after["mfi_14"] == 50).all()
    bars = read_bars_csv(SAMPLE_DATA_DIR / "sp500_1min_2019-11.csv.gz")
    typical = ((bars["high"] + bars["low"] + bars["close"]) / 3).rolling(14).mean()
    np.testing.assert_allclose(frame["vwap"][13:], typical[13:], rtol=1e-12)


def test_single_bar_series_is_all_warmup(bars):
    frame = compute_features(bars["aapl.csv.gz"].iloc[:1])
    assert len(frame) == 1
    for name, spec in FEATURE_SPECS.items():
        value = frame[name].iloc[0]
        assert np.isnan(value) if spec.warmup > 0 else not np.isinf(value), name
    streamed = stream_features(bars["aapl.csv.gz"].iloc[:1])
    assert_same(streamed, frame)


# problem -> (what the message must say, the field it names: None for a whole-frame problem)
BAD_BARS = {
    "nan": ("bars, row 17: close is missing (NaN)", "bars, row 17.close"),
    "zero price": ("bars, row 17: low is 0, prices must be positive", "bars, row 17.low"),
    "negative volume": ("bars, row 17: volume is -5 (< 0)", "bars, row 17.volume"),
    "duplicate": ("bars, row 17: timestamp 2004-09-13 00:00:00+00:00 repeats the previous",
                  "bars, row 17.timestamp"),
    "out of order": ("bars, row 18: timestamp 2004-09-14 00:00:00+00:00 is before the previous",
                     "bars, row 18.timestamp"),
    "missing column": ("bars: missing column 'volume'", None),
    "naive timestamps": ("bars: timestamp must be datetime64[ns, UTC]", None),
}


@pytest.mark.parametrize("problem", sorted(BAD_BARS))
def test_bad_bars_are_refused_with_the_row(bars, problem):
    frame = bars["aapl.csv.gz"].iloc[:50].copy()
    if problem == "nan":
        frame.loc[17, "close"] = np.nan
    elif problem == "zero price":
        frame.loc[17, "low"] = 0.0
    elif problem == "negative volume":
        frame.loc[17, "volume"] = -5.0
    elif problem == "duplicate":
        frame.loc[17, "timestamp"] = frame.loc[16, "timestamp"]
    elif problem == "out of order":
        frame = frame.iloc[[*range(17), 18, 17, *range(19, 50)]].reset_index(drop=True)
    elif problem == "missing column":
        frame = frame.drop(columns="volume")
    else:
        frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)
    message, field = BAD_BARS[problem]
    for compute in (compute_features, stream_features):  # batch and streaming alike
        with pytest.raises(BarDataError) as refused:
            compute(frame)
        assert str(refused.value).startswith(message), (compute.__name__, str(refused.value))
        assert refused.value.field == field, compute.__name__


def test_a_nan_input_restarts_a_stateful_kernel():
    """Inside the kernels, a NaN (missing context) resets a window: it refills from scratch."""
    graph = Graph(("x",))
    x = graph.input("x")
    program = graph.compile([x.mean(3), x.ema(3), x.lag(1)])
    values = np.array([1.0, 2.0, 3.0, np.nan, 5.0, 6.0, 7.0, 8.0])
    vals = program.new_values(len(values), 1)
    vals[0, :, 0] = values
    state, ring = program.new_memory(1)
    mean, ema, lag = program.run(vals, state, ring, np.zeros(1, np.int64))[:, :, 0]
    np.testing.assert_array_equal(np.isnan(mean), [1, 1, 0, 1, 1, 1, 0, 0])
    assert mean[2] == 2.0 and mean[6] == 6.0 and mean[7] == 7.0
    assert ema[6] == pytest.approx(5.0 * 0.25 + 6.0 * 0.25 + 7.0 * 0.5)
    np.testing.assert_array_equal(lag[1:], values[:-1])
