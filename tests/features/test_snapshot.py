"""Snapshot and restore mid-stream: the restored engine continues exactly where it stopped."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from contract.errors import ArtifactError, BarDataError
from contract.home import SAMPLE_DATA_DIR
from features.engine import StreamingEngine, compute_features, feature_names
from marketdata.csv_import import read_bars_csv


@pytest.fixture(scope="module")
def bars() -> dict[str, pd.DataFrame]:
    files = {"AAPL": "aapl.csv.gz", "SPY": "spy.csv.gz", "GOOG": "goog.csv.gz"}
    return {name: read_bars_csv(SAMPLE_DATA_DIR / file) for name, file in files.items()}


def feed(engine: StreamingEngine, bars: dict[str, pd.DataFrame], start, stop) -> np.ndarray:
    """Stream AAPL and GOOG (context: SPY, also GOOG's sector) for dates in [start, stop)."""
    records = {symbol: {bar["timestamp"]: bar for bar in frame.to_dict("records")}
               for symbol, frame in bars.items()}
    rows = []
    for stamp in records["AAPL"]:
        if not start <= stamp < stop:
            continue
        if stamp in records["SPY"]:
            engine.update_context("SPY", stamp, records["SPY"][stamp]["close"])
            engine.update_context("XLK", stamp, records["SPY"][stamp]["close"])
        for symbol in ("AAPL", "GOOG"):
            rows.append(engine.update(symbol, records[symbol][stamp]))
    return np.array(rows)


@pytest.fixture(scope="module")
def dates(bars) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    stamps = bars["AAPL"]["timestamp"]
    return stamps.iloc[800], stamps.iloc[1000], stamps.iloc[1200]  # SPY starts near 850


def test_restored_engine_continues_exactly(bars, dates, tmp_path):
    start, middle, stop = dates
    straight = StreamingEngine()
    straight.add_symbol("GOOG", sector="XLK")
    expected = feed(straight, bars, start, stop)

    first = StreamingEngine()
    first.add_symbol("GOOG", sector="XLK")
    before = feed(first, bars, start, middle)
    path = first.snapshot(tmp_path / "state" / "engine.npz")
    restored = StreamingEngine.restore(path)
    after = feed(restored, bars, middle, stop)

    np.testing.assert_array_equal(np.vstack([before, after]), expected)
    np.testing.assert_array_equal(restored.window("AAPL"), straight.window("AAPL"))
    assert restored.sectors == ["XLK", ""]  # GOOG was added first


def test_restored_stream_equals_batch(bars, dates, tmp_path):
    start, middle, stop = dates
    engine = StreamingEngine()
    feed(engine, bars, start, middle)
    restored = StreamingEngine.restore(engine.snapshot(tmp_path / "engine.npz"))
    rows = feed(restored, bars, middle, stop)[::2]  # AAPL rows
    aapl = bars["AAPL"][(bars["AAPL"]["timestamp"] >= start) & (bars["AAPL"]["timestamp"] < stop)]
    spy = bars["SPY"][bars["SPY"]["timestamp"].isin(aapl["timestamp"])]
    batch = compute_features(aapl.reset_index(drop=True), {"SPY": spy})
    expected = batch[batch["timestamp"] >= middle][feature_names()].to_numpy()
    np.testing.assert_allclose(rows, expected, rtol=1e-9, atol=0, equal_nan=True)


def test_snapshot_holds_plain_arrays_only(bars, dates, tmp_path):
    engine = StreamingEngine()
    feed(engine, bars, dates[0], dates[0] + pd.Timedelta(days=10))
    path = engine.snapshot(tmp_path / "engine.npz")
    with np.load(path, allow_pickle=False) as archive:
        header = json.loads(str(archive["header"]))
        assert archive["symbols"].tolist() == ["AAPL", "GOOG"]
    assert header["feature_names"] == feature_names()
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_damaged_or_foreign_snapshot_is_refused(bars, dates, tmp_path):
    with pytest.raises(ArtifactError, match="no engine snapshot"):
        StreamingEngine.restore(tmp_path / "absent.npz")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"not a zip file")
    with pytest.raises(ArtifactError, match="not an engine snapshot"):
        StreamingEngine.restore(damaged)

    engine = StreamingEngine()
    feed(engine, bars, dates[0], dates[0] + pd.Timedelta(days=5))
    path = engine.snapshot(tmp_path / "engine.npz")
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(str(arrays["header"]))
    arrays["header"] = np.array(json.dumps(header | {"program": "0123456789abcdef"}))
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, **arrays)
    with pytest.raises(ArtifactError, match="program"):
        StreamingEngine.restore(foreign)
    assert zipfile.is_zipfile(path)


def test_a_format_1_snapshot_still_loads_and_refuses_a_changed_repeat(tmp_path):
    engine = StreamingEngine()
    bar = {"timestamp": pd.Timestamp("2020-01-02", tz="UTC"), "open": 10.0, "high": 11.0,
           "low": 9.0, "close": 10.5, "volume": 1.0}
    engine.update("X", bar)
    path = engine.snapshot(tmp_path / "new.npz")
    with np.load(path) as archive:  # the layout before the last bars' values were kept
        arrays = {name: archive[name] for name in archive.files if "last_values" not in name}
    header = json.loads(str(arrays["header"]))
    arrays["header"] = np.array(json.dumps({**header, "format": 1}))
    np.savez(tmp_path / "old.npz", **arrays)
    restored = StreamingEngine.restore(tmp_path / "old.npz")
    assert restored.seen.tolist() == [1]
    with pytest.raises(BarDataError, match="differs"):  # unknown values: never taken as equal
        restored.update("X", {**bar, "close": 10.6})
    restored.update("X", {**bar, "timestamp": pd.Timestamp("2020-01-03", tz="UTC")})
