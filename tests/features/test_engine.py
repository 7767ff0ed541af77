"""The streaming engine: many symbols stepping together, repeated and late bars, windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contract.errors import BarDataError, UnknownSymbolError
from contract.home import SAMPLE_DATA_DIR
from features.engine import (
    BAR_VALUES,
    FEATURE_SPECS,
    StreamingEngine,
    compute_features,
    feature_names,
)
from features.indicators.kernels import calendar
from marketdata.csv_import import read_bars_csv

SYMBOLS = {"AAPL": "aapl.csv.gz", "GOOG": "goog.csv.gz", "INTC": "intc.csv.gz",
           "SPY": "spy.csv.gz"}


@pytest.fixture(scope="module")
def bars() -> dict[str, pd.DataFrame]:
    """Four symbols with different spans (INTC stops in 2004, SPY starts in 2008)."""
    return {symbol: read_bars_csv(SAMPLE_DATA_DIR / file) for symbol, file in SYMBOLS.items()}


def stamps_of(frame: pd.DataFrame) -> np.ndarray:
    return frame["timestamp"].to_numpy("datetime64[ns]").astype(np.int64)


@pytest.fixture(scope="module")
def streamed(bars) -> tuple[StreamingEngine, dict[str, np.ndarray]]:
    """All symbols stepped together: one ``update_many`` per date with every symbol trading."""
    engine = StreamingEngine()
    table = pd.concat([frame.assign(symbol=symbol) for symbol, frame in bars.items()])
    table = table.sort_values(["timestamp", "symbol"], kind="stable")
    stamps, symbols = stamps_of(table), table["symbol"].to_numpy()
    values = table[list(BAR_VALUES)].to_numpy()
    starts = np.flatnonzero(np.r_[True, stamps[1:] != stamps[:-1], True])
    rows: dict[str, list[np.ndarray]] = {symbol: [] for symbol in bars}
    for start, stop in zip(starts[:-1], starts[1:], strict=True):
        day = list(symbols[start:stop])
        out = engine.update_many(day, stamps[start:stop], values[start:stop])
        for symbol, row in zip(day, out, strict=True):
            rows[symbol].append(row)
    return engine, {symbol: np.array(found) for symbol, found in rows.items()}


def test_symbols_stepped_together_equal_their_own_batch(bars, streamed):
    _, rows = streamed
    for symbol, frame in bars.items():
        expected = compute_features(frame)[feature_names()].to_numpy()
        np.testing.assert_allclose(rows[symbol], expected, rtol=1e-9, atol=0, equal_nan=True)


def test_window_returns_the_last_rows_oldest_first(bars, streamed):
    engine, rows = streamed
    window = engine.window("AAPL", 60)
    assert window.shape == (60, len(FEATURE_SPECS))
    np.testing.assert_array_equal(window, rows["AAPL"][-60:])
    np.testing.assert_array_equal(engine.window("AAPL", 5), rows["AAPL"][-5:])
    with pytest.raises(UnknownSymbolError, match="MSFT"):
        engine.window("MSFT")
    with pytest.raises(ValueError, match="window length"):
        engine.window("AAPL", 61)


def test_window_is_short_until_enough_bars(bars):
    engine = StreamingEngine()
    frame = bars["GOOG"]
    for i in range(3):
        engine.update("GOOG", frame.iloc[i].to_dict())
    assert engine.window("GOOG").shape == (3, len(FEATURE_SPECS))


def test_repeated_bar_changes_nothing_and_late_bar_is_refused(bars):
    engine = StreamingEngine()
    frame = bars["AAPL"]
    for i in range(30):
        engine.update("AAPL", frame.iloc[i].to_dict())
    state = engine.symbols.state.copy()
    again = engine.update("AAPL", frame.iloc[29].to_dict())
    np.testing.assert_array_equal(again, engine.window("AAPL", 1)[0])
    np.testing.assert_array_equal(engine.symbols.state, state)
    with pytest.raises(BarDataError, match="AAPL.*older than the last one"):
        engine.update("AAPL", frame.iloc[10].to_dict())
    np.testing.assert_array_equal(engine.symbols.state, state)


@pytest.mark.parametrize("change", [{"close": float("nan")}, {"low": -1.0}, {"volume": -3.0},
                                    {"high": float("inf")}])
def test_bad_live_bar_is_refused_and_state_kept(bars, change):
    engine = StreamingEngine()
    frame = bars["AAPL"]
    engine.update("AAPL", frame.iloc[0].to_dict())
    state = engine.symbols.state.copy()
    with pytest.raises(BarDataError, match="AAPL"):
        engine.update("AAPL", frame.iloc[1].to_dict() | change)
    np.testing.assert_array_equal(engine.symbols.state, state)


def test_bar_without_a_field_is_refused(bars):
    bar = bars["AAPL"].iloc[0].to_dict()
    del bar["volume"]
    with pytest.raises(BarDataError, match="volume"):
        StreamingEngine().update("AAPL", bar)


def test_same_symbol_twice_in_one_step_is_refused(bars):
    frame = bars["AAPL"]
    with pytest.raises(BarDataError, match="twice"):
        StreamingEngine().update_many(["AAPL", "AAPL"], stamps_of(frame.iloc[:2]),
                                      frame[list(BAR_VALUES)].iloc[:2])


def test_symbol_added_mid_stream_starts_its_own_warmup(bars):
    engine = StreamingEngine()
    goog, aapl = bars["GOOG"], bars["AAPL"]
    for i in range(100):
        engine.update("GOOG", goog.iloc[i].to_dict())
    first = engine.update("AAPL", aapl.iloc[0].to_dict())
    expected = compute_features(aapl.iloc[:1])[feature_names()].to_numpy()[0]
    np.testing.assert_array_equal(first, expected)
    assert engine.symbols.index == {"GOOG": 0, "AAPL": 1}


def test_calendar_matches_pandas():
    stamps = pd.to_datetime(np.random.default_rng(3).integers(-2e9, 4e9, 2000), unit="s",
                            utc=True)
    day_of_week, month = np.empty(len(stamps)), np.empty(len(stamps))
    calendar(stamps.to_numpy("datetime64[ns]").astype(np.int64), day_of_week, month)
    np.testing.assert_array_equal(day_of_week, stamps.dayofweek)
    np.testing.assert_array_equal(month, stamps.month)


def test_command_line_batch_and_stream_write_the_same(tmp_path):
    """`tradecast features compute` in both modes, to Parquet and CSV, and `features list`."""
    from typer.testing import CliRunner

    from tradecast.cli import app

    runner = CliRunner()
    aapl, spy = SAMPLE_DATA_DIR / "aapl.csv.gz", SAMPLE_DATA_DIR / "spy.csv.gz"
    short = tmp_path / "aapl.csv"
    read_bars_csv(aapl).iloc[-300:].to_csv(short, index=False)
    written = {}
    for mode, name in (("batch", "batch.parquet"), ("stream", "stream.csv")):
        result = runner.invoke(app, ["features", "compute", "--bars", str(short), "--out",
                                     str(tmp_path / name), "--mode", mode, "--context",
                                     f"SPY={spy}", "--home", str(tmp_path / "home")])
        assert result.exit_code == 0, result.output
        written[mode] = (pd.read_parquet(tmp_path / name) if name.endswith("parquet")
                         else pd.read_csv(tmp_path / name, parse_dates=["timestamp"]))
    batch, stream = written["batch"], written["stream"]
    assert list(batch.columns) == ["timestamp", *feature_names()] == list(stream.columns)
    np.testing.assert_allclose(stream[feature_names()], batch[feature_names()], rtol=1e-9,
                               equal_nan=True)
    listing = runner.invoke(app, ["features", "list"])
    assert listing.exit_code == 0
    assert all(name in listing.output for name in feature_names())
