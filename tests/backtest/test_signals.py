"""Bad signal input gets a clear error that names the row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.signals import load_bars, read_signals, validate_signals
from contract.errors import BarDataError, TradecastError, UnknownSymbolError
from tests.backtest.helpers import make_bars, make_signals


@pytest.fixture()
def bars() -> dict[str, pd.DataFrame]:
    return {"X": make_bars(np.linspace(100.0, 104.0, 5))}


@pytest.fixture()
def signals(bars) -> pd.DataFrame:
    return make_signals(bars["X"], "X", [0.0, 1.0, 1.0, -1.0, 0.0])


def test_a_good_frame_comes_back_with_utc_times_and_float_positions(bars, signals):
    naive = signals.assign(timestamp=signals["timestamp"].dt.tz_localize(None).astype(str),
                           symbol="x", position=signals["position"].astype(int))
    checked = validate_signals(naive, bars)
    assert checked["timestamp"].equals(signals["timestamp"].astype("datetime64[ns, UTC]"))
    assert checked["symbol"].eq("X").all() and checked["position"].dtype == np.float64


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda s: s.assign(symbol=["X", "X", "NOPE", "X", "X"]), UnknownSymbolError,
         r"row 2: no bars for symbol NOPE"),
        (lambda s: s.assign(position=[0.0, 1.0, 1.5, 0.0, 0.0]), BarDataError,
         r"row 2 \(X .*position 1.5 is not a number in \[-1, 1\]"),
        (lambda s: s.assign(position=[0.0, 1.0, 1.0, np.nan, 0.0]), BarDataError,
         r"row 3 .*position is missing \(NaN\)"),
        (lambda s: s.assign(position=["0", "1", "up", "0", "0"]), BarDataError,
         r"row 2 .*position 'up' is not a number"),
        (lambda s: s.iloc[[0, 2, 1, 3, 4]], BarDataError,
         r"row 2 .*earlier than the row before"),
        (lambda s: s.iloc[[0, 1, 1, 2, 3]], BarDataError,
         r"row 2 .*second signal for the same symbol and timestamp"),
        (lambda s: s.assign(timestamp=s["timestamp"] + pd.Timedelta(days=3)), BarDataError,
         r"row 2 \(X 2020-01-11.*no X bar at this time \(its bars: 2020-01-06.*2020-01-10"),
        (lambda s: s.assign(timestamp=s["timestamp"] + pd.Timedelta(hours=1)), BarDataError,
         r"row 0 .*no X bar at this time"),
        (lambda s: s.drop(columns="position"), BarDataError, r"missing column 'position'"),
    ],
)
def test_bad_signals_are_refused_naming_the_row(bars, signals, change, error, message):
    with pytest.raises(error, match=message) as caught:
        validate_signals(change(signals), bars, origin="my_signals.csv")
    assert isinstance(caught.value, TradecastError)
    assert str(caught.value).startswith("my_signals.csv")


def test_signal_files_and_bars_from_the_store_and_from_csv(tmp_path, sample_home, sample_dir):
    bars = load_bars(["ignored"], f"aapl, {sample_dir / 'intc.csv.gz'}", sample_home.bars_dir)
    assert sorted(bars) == ["AAPL", "INTC"]
    assert bars["INTC"]["timestamp"].iloc[-1] == pd.Timestamp("2004-04-08", tz="UTC")
    with pytest.raises(UnknownSymbolError, match="MSFT"):
        load_bars(["MSFT"], None, sample_home.bars_dir)

    frame = make_signals(bars["AAPL"], "AAPL", [1.0, 0.0])
    frame.to_parquet(tmp_path / "signals.parquet")
    assert validate_signals(read_signals(tmp_path / "signals.parquet"), bars).equals(frame)
    with pytest.raises(BarDataError, match="no such signal file"):
        read_signals(tmp_path / "missing.csv")
