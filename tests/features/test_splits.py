"""Walk-forward splits: yearly folds whose training labels end an embargo before validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.errors import TradecastError
from features.splits import walk_forward_splits
from marketdata.csv_import import read_bars_csv


@pytest.fixture(scope="module")
def pooled(sample_dir) -> pd.DataFrame:
    """AAPL, GOOG and INTC bars stacked: overlapping and disjoint spans, one early stop."""
    frames = [
        read_bars_csv(sample_dir / f"{name}.csv.gz")[["timestamp"]].assign(symbol=name)
        for name in ("aapl", "goog", "intc")
    ]
    return pd.concat(frames, ignore_index=True)


def assert_embargo_holds(folds, timestamps, symbols, embargo, horizon):
    """Recount, sample by sample, what each fold promises (independently of the splitter)."""
    timestamps = pd.DatetimeIndex(timestamps).as_unit("ns")
    symbols = np.asarray(symbols)
    timeline = np.unique(timestamps.asi8)
    own_bars = {s: np.sort(timestamps.asi8[symbols == s]) for s in np.unique(symbols)}
    for fold in folds:
        train, validation = fold.train_index, fold.validation_index
        assert len(train) and len(validation)
        assert not (fold.train_mask & fold.validation_mask).any()
        assert (timestamps[validation].year == fold.validation_year).all()
        assert ((timestamps.year == fold.validation_year) == fold.validation_mask).all()
        first_validation = timestamps[validation].min().value
        for symbol, bars in own_bars.items():
            rows = train[symbols[train] == symbol]
            k = np.searchsorted(bars, timestamps.asi8[rows])
            assert (k + horizon < len(bars)).all(), "a training label must be known"
            label_end = bars[k + horizon]
            # Timeline bars strictly after the label's end and strictly before validation.
            between = np.searchsorted(timeline, first_validation) - np.searchsorted(
                timeline, label_end, side="right"
            )
            assert (between >= embargo).all(), f"{fold.describe()}: {between.min()} bars gap"


def test_yearly_folds_on_one_real_series(sample_dir):
    stamps = read_bars_csv(sample_dir / "sp500.csv.gz")["timestamp"]
    folds = walk_forward_splits(stamps)
    assert [f.validation_year for f in folds] == list(range(2001, 2019))
    assert_embargo_holds(folds, stamps, np.zeros(len(stamps)), embargo=24, horizon=24)
    for fold in folds:
        assert fold.train_start == stamps.iloc[0]  # expanding window
        # The gap is exactly horizon + embargo steps: nothing is thrown away needlessly.
        last_train = stamps.searchsorted(fold.train_end)
        assert stamps.searchsorted(fold.validation_start) - last_train == 24 + 24 + 1
    for earlier, later in zip(folds, folds[1:], strict=False):
        assert not (earlier.train_mask & ~later.train_mask).any(), "training must expand"


def test_pooled_symbols_with_rolling_window(pooled):
    folds = walk_forward_splits(
        pooled["timestamp"], pooled["symbol"], first_validation_year=2003, train_years=3
    )
    assert folds[0].validation_year == 2003
    assert_embargo_holds(folds, pooled["timestamp"], pooled["symbol"], embargo=24, horizon=24)
    for fold in folds:
        train_years = pd.DatetimeIndex(pooled["timestamp"][fold.train_mask]).year
        assert train_years.min() >= fold.validation_year - 3
    # INTC stops in April 2004: its last 24 bars have no label end and never train.
    intc = pooled.index[pooled["symbol"] == "intc"]
    assert not any(fold.train_mask[intc[-24:]].any() for fold in folds)


def test_pooled_timestamps_need_symbols(pooled):
    with pytest.raises(TradecastError, match="symbols"):
        walk_forward_splits(pooled["timestamp"])


def test_embargo_shorter_than_horizon_is_refused(pooled):
    with pytest.raises(ValueError, match="embargo"):
        walk_forward_splits(pooled["timestamp"], pooled["symbol"], embargo=10, horizon=24)


@st.composite
def sample_sets(draw):
    """Random days over a few years for 1-3 symbols, with random holes, plus split settings."""
    n_days = draw(st.integers(400, 1500))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    days = pd.date_range("2010-01-01", periods=n_days, freq="D", tz="UTC")
    stamps, symbols = [], []
    for symbol in range(draw(st.integers(1, 3))):
        keep = rng.random(n_days) < draw(st.floats(0.2, 1.0))
        keep[: draw(st.integers(0, n_days // 3))] = False  # symbols start at different times
        stamps.append(days[keep])
        symbols += [symbol] * int(keep.sum())
    horizon = draw(st.integers(1, 30))
    embargo = draw(st.integers(horizon, horizon + 20))
    return pd.DatetimeIndex(np.concatenate(stamps)), np.array(symbols), horizon, embargo


@settings(max_examples=40, deadline=None)
@given(sample_sets())
def test_embargo_holds_for_random_timestamp_sets(case):
    stamps, symbols, horizon, embargo = case
    folds = walk_forward_splits(
        stamps, symbols, first_validation_year=2011, embargo=embargo, horizon=horizon
    )
    assert_embargo_holds(folds, stamps, symbols, embargo=embargo, horizon=horizon)
