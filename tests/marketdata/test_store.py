"""The Parquet bar store: read-back equality, incremental append, de-duplication, atomic writes."""

from __future__ import annotations

import os
import re

import pandas as pd
import pyarrow.parquet as pq
import pytest

from contract.errors import BarDataError, UnknownSymbolError
from marketdata.csv_import import read_bars_csv
from marketdata.store import BarStore


@pytest.fixture(scope="module")
def aapl(sample_dir) -> pd.DataFrame:
    return read_bars_csv(sample_dir / "aapl.csv.gz")


def file_bytes(store: BarStore) -> dict[str, bytes]:
    return {str(p.relative_to(store.root)): p.read_bytes() for p in store.root.rglob("*")
            if p.is_file()}


def test_reads_back_exactly_what_was_written(tmp_path, aapl):
    store = BarStore(tmp_path)
    assert store.write("AAPL", "1d", aapl) == len(aapl)
    assert store.path("AAPL", "1d") == tmp_path / "1d" / "AAPL.parquet"
    pd.testing.assert_frame_equal(store.read("AAPL", "1d"), aapl, check_exact=True)


def test_append_adds_only_what_is_new(tmp_path, aapl):
    store = BarStore(tmp_path)
    assert store.write("AAPL", "1d", aapl.iloc[:1000]) == 1000
    # The second batch overlaps the first by 200 bars: only the 2,179 new ones count.
    assert store.write("AAPL", "1d", aapl.iloc[800:]) == len(aapl) - 1000
    pd.testing.assert_frame_equal(store.read("AAPL", "1d"), aapl, check_exact=True)


def test_older_bars_are_merged_in_order(tmp_path, aapl):
    store = BarStore(tmp_path)
    store.write("AAPL", "1d", aapl.iloc[2000:])
    assert store.write("AAPL", "1d", aapl.iloc[:2000]) == 2000
    pd.testing.assert_frame_equal(store.read("AAPL", "1d"), aapl, check_exact=True)


def test_same_bars_twice_are_stored_once_and_the_file_is_untouched(tmp_path, aapl):
    store = BarStore(tmp_path)
    store.write("AAPL", "1d", aapl)
    before = file_bytes(store)
    mtime = os.stat(store.path("AAPL", "1d")).st_mtime_ns
    assert store.write("AAPL", "1d", aapl.iloc[100:300]) == 0
    assert file_bytes(store) == before
    assert os.stat(store.path("AAPL", "1d")).st_mtime_ns == mtime


def test_conflicting_bar_is_refused_and_the_store_keeps_its_bytes(tmp_path, aapl):
    store = BarStore(tmp_path)
    store.write("AAPL", "1d", aapl.iloc[:100])
    before = file_bytes(store)
    changed = aapl.iloc[90:110].copy()
    changed.loc[changed.index[5], "close"] += 0.01
    stamp = aapl["timestamp"][95]
    with pytest.raises(BarDataError, match=re.escape(f"AAPL 1d: the new bar at {stamp} has close")):
        store.write("AAPL", "1d", changed)
    assert file_bytes(store) == before


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, aapl, monkeypatch):
    store = BarStore(tmp_path)
    store.write("AAPL", "1d", aapl.iloc[:100])
    before = file_bytes(store)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    # Interrupt the write after the temporary file was written, before the rename.
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.write("AAPL", "1d", aapl.iloc[100:200])
    assert file_bytes(store) == before  # no temporary file left behind either


def test_read_with_a_time_range(tmp_path, aapl):
    store = BarStore(tmp_path)
    store.write("AAPL", "1d", aapl)
    year = store.read("AAPL", "1d", start="2010-01-01", end="2010-12-31")
    assert year["timestamp"].dt.year.unique().tolist() == [2010]
    assert len(year) == 252


def test_unknown_symbol_names_what_is_stored(tmp_path, aapl):
    store = BarStore(tmp_path)
    store.write("AAPL", "1d", aapl)
    with pytest.raises(UnknownSymbolError, match=r"no 1d bars for MSFT .*\(stored: AAPL\)"):
        store.read("MSFT")


def test_symbols_timeframes_and_pair_names(tmp_path, aapl):
    store = BarStore(tmp_path)
    store.write("aapl", "1d", aapl)
    store.write("BTC/USD", "1h", aapl.iloc[:10])
    assert store.symbols() == ["AAPL", "BTC/USD"]
    assert store.symbols("1h") == ["BTC/USD"]
    assert store.timeframes() == ["1d", "1h"]
    assert store.read("btc/usd", "1h")["close"].tolist() == aapl["close"].iloc[:10].tolist()
    assert store.summary()["bars"].tolist() == [len(aapl), 10]


def test_file_schema_is_utc_nanoseconds(tmp_path, aapl):
    store = BarStore(tmp_path)
    store.write("AAPL", "1d", aapl)
    schema = pq.read_schema(store.path("AAPL", "1d"))
    assert str(schema.field("timestamp").type) == "timestamp[ns, tz=UTC]"


def test_sample_home_holds_the_whole_sample(sample_home):
    store = BarStore(sample_home.bars_dir)
    assert store.symbols("1d") == ["AAPL", "GOOG", "INTC", "IXIC", "SPX", "SPY", "VIX"]
    assert store.symbols("1min") == ["SPX"]
    assert store.read("INTC")["timestamp"].iloc[-1] == pd.Timestamp("2004-04-08", tz="UTC")
