"""Sequence windows over real sample symbols: valid ends, zero-copy views, gaps, boundaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contract.errors import TradecastError
from features.engine import FEATURE_SPECS, compute_features, feature_names
from features.labels import make_labels
from features.windows import WINDOW, SequenceWindows, gap_before, model_matrix
from marketdata.csv_import import read_bars_csv

SYMBOLS = ("aapl", "goog", "intc")


@pytest.fixture(scope="module")
def market(sample_dir):
    """Bars, features (with SPY context) and labels of three real symbols."""
    spy = read_bars_csv(sample_dir / "spy.csv.gz")
    bars = {name: read_bars_csv(sample_dir / f"{name}.csv.gz") for name in SYMBOLS}
    features = {name: compute_features(b, {"SPY": spy}) for name, b in bars.items()}
    labels = {name: make_labels(b) for name, b in bars.items()}
    return bars, features, labels


@pytest.fixture(scope="module")
def windows(market) -> SequenceWindows:
    _, features, labels = market
    return SequenceWindows(features, feature_names(), labels)


def test_model_matrix_fills_context_but_keeps_warm_up(market):
    frame = market[1]["aapl"]  # AAPL starts in 2004, SPY context only in 2008
    names = feature_names()
    matrix = model_matrix(frame, names)
    assert matrix.dtype == np.float32 and matrix.shape == (len(frame), len(names))
    for column, name in enumerate(names):
        missing = frame[name].isna().to_numpy()
        fill = FEATURE_SPECS[name].fill_missing
        if fill is None:
            assert (np.isnan(matrix[:, column]) == missing).all(), name
        else:
            assert (matrix[missing, column] == np.float32(fill)).all(), name
    context = [n for n in names if FEATURE_SPECS[n].fill_missing is not None]
    warm_up = [n for n in names if FEATURE_SPECS[n].warmup > 0]
    assert any(frame[n].isna().any() for n in context), "the sample should miss some context"
    assert np.isnan(matrix[0, names.index(warm_up[0])])
    with pytest.raises(TradecastError, match="not engine features"):
        model_matrix(frame, ["no_such_feature"])


def test_windows_are_views_of_one_shared_matrix(windows):
    assert windows.view.shape == (len(windows.matrix) - WINDOW + 1, WINDOW, len(windows.names))
    assert np.shares_memory(windows.view, windows.matrix)
    assert np.shares_memory(windows[len(windows) // 2], windows.matrix)
    assert windows.view.strides[0] == windows.matrix.strides[0], "one row per step, not a copy"
    batch = windows.batch([0, 5, len(windows) - 1])
    assert batch.shape == (3, WINDOW, len(windows.names))
    assert not np.shares_memory(batch, windows.matrix)
    np.testing.assert_array_equal(batch[1], windows[5])


def test_every_window_matches_its_symbols_rows_and_labels(windows, market):
    bars, features, labels = market
    rng = np.random.default_rng(0)
    starts = np.cumsum([0] + [len(features[s]) for s in SYMBOLS])
    for sample in rng.choice(len(windows), 50, replace=False):
        end = windows.ends[sample]
        code = np.searchsorted(starts, end, side="right") - 1
        symbol, local_end = SYMBOLS[code], end - starts[code]
        assert windows.end_symbols[sample] == symbol
        rows = model_matrix(features[symbol], windows.names)[local_end - WINDOW + 1 : local_end + 1]
        np.testing.assert_array_equal(windows[sample], rows)
        expected_labels = labels[symbol][windows.label_columns].iloc[local_end]
        np.testing.assert_array_equal(
            windows.batch_labels([sample])[0], expected_labels.to_numpy(np.float32)
        )
        assert windows.end_timestamps[sample] == bars[symbol]["timestamp"].iloc[local_end]
    assert np.isfinite(windows.batch(np.arange(len(windows)))).all()
    assert np.isfinite(windows.batch_labels(np.arange(len(windows)))).all()


def test_valid_ends_are_exactly_the_complete_gap_free_windows(windows, market):
    bars, features, labels = market
    offset = len(features["aapl"]) + len(features["goog"])
    frame, stamps = features["intc"], bars["intc"]["timestamp"]
    finite = pd.Series(np.isfinite(model_matrix(frame, windows.names)).all(axis=1))
    no_gap = pd.Series(stamps.diff() <= pd.Timedelta(days=5)).astype(float)
    labelled = labels["intc"].drop(columns="timestamp").notna().all(axis=1)
    expected = (
        (finite.astype(float).rolling(WINDOW).min() == 1)
        & (no_gap.rolling(WINDOW - 1).min() == 1)  # the 59 steps inside the window
        & labelled
    )
    intc_ends = windows.ends[windows.ends >= offset] - offset
    np.testing.assert_array_equal(intc_ends, np.flatnonzero(expected.to_numpy()))
    # INTC's one gap: the market closed after 11 September 2001; no window spans it.
    before, after = pd.Timestamp("2001-09-10", tz="UTC"), pd.Timestamp("2001-09-17", tz="UTC")
    ends_after = stamps.iloc[intc_ends] >= after
    first_rows = stamps.iloc[intc_ends - WINDOW + 1].to_numpy()
    assert not (ends_after.to_numpy() & (first_rows <= before)).any()
    assert ends_after.any()


def test_windows_never_cross_symbols(windows):
    symbols_in_window = windows.row_symbols[windows.ends[:, None] + np.arange(1 - WINDOW, 1)]
    assert (symbols_in_window == symbols_in_window[:, :1]).all()
    assert set(windows.end_symbols) == set(SYMBOLS)


def test_misaligned_labels_are_refused(market):
    _, features, labels = market
    shifted = {"aapl": labels["aapl"].iloc[1:]}
    with pytest.raises(TradecastError, match="aligned"):
        SequenceWindows({"aapl": features["aapl"]}, feature_names(), shifted)


def test_gap_rule_for_daily_and_minute_bars(sample_dir):
    daily = read_bars_csv(sample_dir / "sp500.csv.gz")["timestamp"]
    steps = daily.diff()
    gaps = gap_before(daily)
    assert (gaps == (steps > pd.Timedelta(days=5)).to_numpy()).all()
    assert gaps.sum() == 1 and daily[gaps].iloc[0] == pd.Timestamp("2001-09-17", tz="UTC")
    assert not gap_before(daily, max_step=pd.Timedelta(days=7)).any()

    minutes = read_bars_csv(sample_dir / "sp500_1min_2019-11.csv.gz")["timestamp"]
    assert not gap_before(minutes).any(), "nights between sessions are not gaps"
    holed = minutes.drop(minutes.index[100:130]).reset_index(drop=True)
    assert np.flatnonzero(gap_before(holed)).tolist() == [100]


def test_a_symbol_shorter_than_a_window_gives_no_samples(market):
    short = SequenceWindows({"aapl": market[1]["aapl"].iloc[-30:]}, feature_names())
    assert len(short) == 0
    assert short.view.shape == (0, WINDOW, len(short.names))
