"""Correlation feature selection on real features, fitted on the training rows only."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from contract.errors import ArtifactError, TradecastError
from features.engine import compute_features, feature_names
from features.selection import load_selection, save_selection, select_features
from marketdata.csv_import import read_bars_csv

THRESHOLD = 0.8


@pytest.fixture(scope="module")
def frame(sample_dir) -> pd.DataFrame:
    """AAPL's features with SPY context (SPY starts in 2008, after AAPL)."""
    bars = read_bars_csv(sample_dir / "aapl.csv.gz")
    spy = read_bars_csv(sample_dir / "spy.csv.gz")
    return compute_features(bars, {"SPY": spy})


@pytest.fixture(scope="module")
def train_mask(frame) -> np.ndarray:
    return (frame["timestamp"] < pd.Timestamp("2013-01-01", tz="UTC")).to_numpy()


@pytest.fixture(scope="module")
def selected(frame, train_mask) -> list[str]:
    return select_features(frame, feature_names(), train_mask, THRESHOLD)


def train_correlation(frame, train_mask, names):
    # Pairs with too few common training rows count as uncorrelated, as documented.
    return frame.loc[train_mask, names].corr(min_periods=30).abs().fillna(0.0)


def test_selection_shrinks_the_catalogue_keeping_its_order(selected):
    names = feature_names()
    # Measured: 66 -> 27 on AAPL 2004-2012 with SPY context (9 context columns have no data).
    assert 25 <= len(selected) <= 40, f"{len(names)} -> {len(selected)}"
    assert len(selected) < len(names) - 20
    assert selected == [name for name in names if name in selected]


def test_kept_features_are_not_alike_and_each_dropped_one_has_a_twin(frame, train_mask, selected):
    corr = train_correlation(frame, train_mask, feature_names())
    kept = corr.loc[selected, selected].to_numpy()
    assert (kept[~np.eye(len(selected), dtype=bool)] <= THRESHOLD).all()
    names = feature_names()
    for name in set(names) - set(selected):
        train = frame.loc[train_mask, name]
        if train.count() < 30 or not train.std() > 0:
            continue  # not judgeable on the training rows
        earlier_kept = [k for k in selected if names.index(k) < names.index(name)]
        assert (corr.loc[name, earlier_kept] > THRESHOLD).any(), f"{name} dropped for nothing"


def test_values_planted_after_training_change_nothing(frame, train_mask, selected):
    dropped = [name for name in feature_names() if name not in selected]
    planted = frame.copy()
    later = ~train_mask
    noise = np.random.default_rng(1).normal(size=later.sum())
    for name in feature_names():  # every column the same vector: perfectly correlated
        planted.loc[later, name] = noise
    for seed, name in enumerate(dropped):  # and what was dropped looks independent
        planted.loc[later, name] = np.random.default_rng(seed).normal(size=later.sum())
    assert select_features(planted, feature_names(), train_mask, THRESHOLD) == selected
    # The same plant seen as training data does change the choice: the plant is not a no-op.
    everywhere = np.ones(len(frame), dtype=bool)
    assert select_features(planted, feature_names(), everywhere, THRESHOLD) != selected


def test_ties_go_to_the_earlier_name(frame, train_mask):
    twin = frame.assign(rsi_twin=frame["rsi_14"] * 2 + 1)
    assert select_features(twin, ["rsi_twin", "rsi_14"], train_mask) == ["rsi_twin"]
    assert select_features(twin, ["rsi_14", "rsi_twin"], train_mask) == ["rsi_14"]


def test_unjudgeable_columns_are_dropped(frame, train_mask):
    odd = frame.assign(constant=1.0, empty=np.nan)
    assert select_features(odd, ["rsi_14", "constant", "empty"], train_mask) == ["rsi_14"]
    with pytest.raises(TradecastError, match="missing_column"):
        select_features(frame, ["missing_column"], train_mask)


def test_save_and_load(tmp_path, selected):
    path = save_selection(tmp_path / "run" / "features.json", selected, THRESHOLD)
    assert load_selection(path) == selected
    assert json.loads(path.read_text())["threshold"] == THRESHOLD
    for text in ("{", json.dumps({"features": []}), json.dumps({"features": ["a", "a"]})):
        path.write_text(text)
        with pytest.raises(ArtifactError, match=str(path)):
            load_selection(path)
    with pytest.raises(ArtifactError, match="no feature selection"):
        load_selection(tmp_path / "absent.json")
