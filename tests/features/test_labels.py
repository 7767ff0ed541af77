"""Labels on the real sample bars: forward returns, direction classes, forward volatility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contract.errors import BarDataError
from features.labels import DOWN, FLAT, HORIZONS, UP, label_names, make_labels
from marketdata.csv_import import read_bars_csv


@pytest.fixture(scope="module")
def aapl(sample_dir) -> pd.DataFrame:
    return read_bars_csv(sample_dir / "aapl.csv.gz")


@pytest.fixture(scope="module")
def labels(aapl) -> pd.DataFrame:
    return make_labels(aapl)


def test_columns_follow_label_names(labels, aapl):
    assert list(labels.columns) == ["timestamp", *label_names(HORIZONS)]
    assert len(labels) == len(aapl)
    assert (labels["timestamp"].to_numpy() == aapl["timestamp"].to_numpy()).all()


@pytest.mark.parametrize("h", HORIZONS)
def test_forward_return_and_unknown_future(labels, aapl, h):
    expected = aapl["close"].shift(-h) / aapl["close"] - 1
    np.testing.assert_allclose(labels[f"ret_{h}"], expected, rtol=1e-12)
    for kind in ("ret", "dir", "vol"):
        column = labels[f"{kind}_{h}"]
        assert column.iloc[-h:].isna().all(), f"{kind}_{h} must be unknown in the last {h} rows"
        assert column.iloc[:-h].notna().all()


@pytest.mark.parametrize("h", HORIZONS)
def test_forward_volatility_is_rms_of_next_log_returns(labels, aapl, h):
    log_returns = np.log(aapl["close"]).diff()
    rms = np.sqrt((log_returns**2).rolling(h).mean())  # at row t: returns t-h+1..t
    np.testing.assert_allclose(labels[f"vol_{h}"], rms.shift(-h), rtol=1e-9)
    if h == 1:
        np.testing.assert_allclose(labels["vol_1"].iloc[:-1], log_returns.abs().iloc[1:])


@pytest.mark.parametrize("h", HORIZONS)
def test_direction_classes_use_a_band_growing_with_sqrt_h(aapl, h):
    band = 0.004
    labels = make_labels(aapl, flat_band=band)
    known = labels[f"ret_{h}"].notna()
    ret, direction = labels.loc[known, f"ret_{h}"], labels.loc[known, f"dir_{h}"]
    width = band * np.sqrt(h)
    assert (direction[ret > width] == UP).all()
    assert (direction[ret < -width] == DOWN).all()
    assert (direction[ret.abs() <= width] == FLAT).all()
    # Real bars have all three outcomes, and the flat share stays of the same order.
    shares = direction.value_counts(normalize=True)
    assert set(shares.index) == {DOWN, FLAT, UP}
    assert 0.05 < shares[FLAT] < 0.35


def test_no_flat_band_leaves_only_unchanged_closes_flat(aapl):
    labels = make_labels(aapl, flat_band=0.0)
    flat = labels["dir_1"] == FLAT
    assert (labels.loc[flat, "ret_1"] == 0).all()


def test_label_at_t_depends_only_on_bars_up_to_t_plus_h(aapl):
    cut = 2000
    short = make_labels(aapl.iloc[:cut])
    full = make_labels(aapl)
    longest = max(HORIZONS)
    pd.testing.assert_frame_equal(short.iloc[: cut - longest], full.iloc[: cut - longest])


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b.drop(columns="close"), "close"),
        (lambda b: b.assign(close=b["close"].where(b.index != 5)), "row 5"),
        (lambda b: b.assign(close=-b["close"]), "row 0"),
        (lambda b: b.iloc[::-1], "sorted"),
    ],
)
def test_bad_bars_get_clear_errors(aapl, damage, message):
    with pytest.raises(BarDataError, match=message):
        make_labels(damage(aapl.iloc[:50]))


@pytest.mark.parametrize("kwargs", [{"horizons": (0,)}, {"horizons": ()}, {"flat_band": -0.1}])
def test_bad_parameters_are_refused(aapl, kwargs):
    with pytest.raises(ValueError):
        make_labels(aapl.iloc[:50], **kwargs)
