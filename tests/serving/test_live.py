"""Live per-symbol state in process: idempotence, order, parity with batch, restarts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from contract.home import Home
from features.engine import compute_features
from policy.signal_rule import combine_horizons, positions_from_predictions
from serving.config import ServingConfig
from serving.errors import StaleBarError
from serving.examples import bar_json
from serving.forecasting import MIN_BARS, Forecaster
from serving.live import LiveBook
from serving.registry import ModelRegistry
from serving.responses import ingest_body

EXTRA = 30  # bars streamed after the warm-up


def answered(result) -> dict:
    """An ingest result as the API answers it, attention included (the whole state shown)."""
    return ingest_body(result, return_attention=True)


@pytest.fixture(scope="module")
def forecaster(exported_home: Home) -> Forecaster:
    return Forecaster(ModelRegistry(exported_home.exported_dir), ServingConfig())


@pytest.fixture(scope="module")
def stream(aapl) -> list[dict]:
    return [bar_json(bar) for bar in aapl.iloc[-(MIN_BARS + EXTRA):].itertuples()]


def book(state_dir: Path, forecaster: Forecaster, snapshot_every: int = 1000) -> LiveBook:
    config = replace(forecaster.config, snapshot_every=snapshot_every)
    return LiveBook(state_dir, Forecaster(forecaster.registry, config))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, forecaster: Forecaster, stream: list[dict]):
    live = book(tmp_path_factory.mktemp("live"), forecaster)
    results = [live.ingest("AAPL", bar) for bar in stream]
    return live, results


def test_warm_up_then_forecasts(uninterrupted) -> None:
    _, results = uninterrupted
    assert [r.bars_needed for r in results[:3]] == [MIN_BARS - 1, MIN_BARS - 2, MIN_BARS - 3]
    assert all(r.forecast is None for r in results[: MIN_BARS - 1])
    assert all(r.forecast is not None for r in results[MIN_BARS - 1 :])


def test_live_forecasts_equal_the_batch_pipeline(uninterrupted, forecaster, aapl) -> None:
    """Streaming features -> model equals batch features -> model on the same bars."""
    _, results = uninterrupted
    bars = aapl.iloc[-(MIN_BARS + EXTRA):].reset_index(drop=True)
    frame = compute_features(bars)
    ends = np.arange(MIN_BARS - 1, len(bars))
    batch, _, horizons = forecaster.predict_windows(frame, "hybrid", ends)
    live = [r.forecast.prediction for r in results[MIN_BARS - 1 :]]
    live_up = np.array([prediction.probabilities[0, :, 2] for prediction in live])
    live_returns = np.array([prediction.returns[0] for prediction in live])
    np.testing.assert_allclose(live_up, batch.probabilities[:, :, 2], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(live_returns, batch.returns, rtol=1e-4, atol=1e-6)
    rule = forecaster.config.signal_rule
    positions = positions_from_predictions(
        *combine_horizons(batch.probabilities, batch.returns, batch.volatility, horizons, rule),
        config=rule,
    )
    live_positions = [r.forecast.signal.position for r in results[MIN_BARS - 1 :]]
    np.testing.assert_array_equal(live_positions, positions)


def test_same_bar_twice_changes_nothing_and_older_bars_are_refused(
    tmp_path: Path, forecaster: Forecaster, stream: list[dict]
) -> None:
    live = book(tmp_path, forecaster)
    for bar in stream[:MIN_BARS]:
        live.ingest("AAPL", bar)
    before = live.latest("AAPL")
    again = live.ingest("AAPL", stream[MIN_BARS - 1])
    assert not again.added and again.bars == before.bars and again.forecast is before.forecast
    with pytest.raises(StaleBarError, match="older than"):
        live.ingest("AAPL", stream[10])
    changed = {**stream[MIN_BARS - 1], "close": stream[MIN_BARS - 1]["close"] * 1.01}
    with pytest.raises(StaleBarError, match="differs"):
        live.ingest("AAPL", changed)
    assert answered(live.latest("AAPL")) == answered(before)


def test_restart_after_a_crash_loses_no_bar(
    tmp_path: Path, forecaster: Forecaster, stream: list[dict], uninterrupted
) -> None:
    expected, _ = uninterrupted
    cut = MIN_BARS + 7
    first = book(tmp_path, forecaster, snapshot_every=25)
    for bar in stream[:cut]:
        first.ingest("AAPL", bar)
    # a crash: no close(), no final snapshot, and half a journal line on disk
    with (tmp_path / "journal.jsonl").open("a") as journal:
        journal.write('{"seq": 999, "symbol": "AAP')
    second = book(tmp_path, forecaster, snapshot_every=25)
    assert not second.ingest("AAPL", stream[cut - 1]).added  # the feed resends its last bar
    for bar in stream[cut:]:
        second.ingest("AAPL", bar)
    assert answered(second.latest("AAPL")) == answered(expected.latest("AAPL"))
    np.testing.assert_array_equal(second.engine.window("AAPL", 60),
                                  expected.engine.window("AAPL", 60))
    second.close()
    third = book(tmp_path, forecaster)
    assert answered(third.latest("AAPL")) == answered(expected.latest("AAPL"))
