"""Known-at times: every bar's end, and joins that compare ends across timeframes and calendars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contract.errors import BarDataError
from features.engine import StreamingEngine, compute_features
from features.replay import stream_features
from marketdata.csv_import import read_bars_csv
from marketdata.sessions import ALWAYS_OPEN, bar_ends, known_at_ns, with_known_at


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def ends(stamps: list[str], timeframe: str, calendar: str = "XNYS") -> list[pd.Timestamp]:
    opens = pd.DatetimeIndex(stamps, tz="UTC").as_unit("ns").asi8
    return [pd.Timestamp(int(t), tz="UTC") for t in bar_ends(opens, timeframe, calendar)]


def test_daily_equity_bars_end_at_the_session_close_early_closes_included():
    got = ends(["2019-11-27", "2019-11-29", "2019-07-03", "2019-12-24", "2016-06-01"], "1d")
    assert got == [utc("2019-11-27 21:00"), utc("2019-11-29 18:00"),  # day after Thanksgiving
                   utc("2019-07-03 17:00"), utc("2019-12-24 18:00"),
                   utc("2016-06-01 20:00")]  # summer time: 16:00 New York is 20:00 UTC


def test_a_date_without_session_ends_at_midnight_utc_and_crypto_days_too():
    assert ends(["2019-11-28"], "1d") == [utc("2019-11-29 00:00")]  # Thanksgiving: no session
    assert ends(["2019-11-28"], "1d", ALWAYS_OPEN) == [utc("2019-11-29 00:00")]


def test_intraday_bars_end_at_open_plus_length_on_any_calendar():
    assert ends(["2019-11-29 17:59"], "1min") == [utc("2019-11-29 18:00")]
    assert ends(["2019-11-29 23:00"], "1h", ALWAYS_OPEN) == [utc("2019-11-30 00:00")]


def test_frames_without_known_at_get_a_conservative_guess():
    daily = pd.DataFrame({"timestamp": pd.date_range("2020-01-02", periods=3, tz="UTC")})
    opens = pd.DatetimeIndex(daily["timestamp"]).as_unit("ns").asi8
    assert (known_at_ns(daily, "d") == opens + 86_400 * 10**9).all()
    minutes = pd.DataFrame({"timestamp": pd.to_datetime(
        ["2020-01-02 14:30", "2020-01-02 14:31", "2020-01-02 14:33"], utc=True)})
    step = known_at_ns(minutes, "m") - pd.DatetimeIndex(minutes["timestamp"]).as_unit("ns").asi8
    assert (step == 60 * 10**9).all()
    with pytest.raises(BarDataError, match="one intraday bar"):
        known_at_ns(minutes.iloc[:1], "m")


def flat_bars(stamps: pd.DatetimeIndex, close: np.ndarray, timeframe: str,
              calendar: str = "XNYS") -> pd.DataFrame:
    frame = pd.DataFrame({"timestamp": stamps, "open": close, "high": close * 1.001,
                          "low": close * 0.999, "close": close, "volume": 1000.0})
    return with_known_at(frame, timeframe, calendar)


@pytest.fixture(scope="module")
def minutes(sample_dir) -> pd.DataFrame:
    return read_bars_csv(sample_dir / "sp500_1min_2019-11.csv.gz")


def daily_from(minutes: pd.DataFrame) -> pd.DataFrame:
    """The minute file's sessions as daily bars (the sample's daily files end before 2019-11)."""
    day = minutes["timestamp"].dt.tz_convert("America/New_York").dt.date
    grouped = minutes.groupby(day)
    daily = pd.DataFrame({
        "timestamp": pd.to_datetime(list(grouped.groups), utc=True),
        "open": grouped["open"].first().to_numpy(), "high": grouped["high"].max().to_numpy(),
        "low": grouped["low"].min().to_numpy(), "close": grouped["close"].last().to_numpy(),
        "volume": 0.0,
    })
    return with_known_at(daily, "1d", "XNYS")


@pytest.mark.parametrize("compute", [compute_features, stream_features])
def test_spx_minutes_see_the_previous_session_until_the_close(minutes, compute):
    daily = daily_from(minutes)
    vix = daily.assign(close=daily["close"] / 200, open=daily["close"] / 200,
                       high=daily["close"] / 200, low=daily["close"] / 200)
    frame = compute(minutes, {"SPY": daily, "VIX": vix})
    known = minutes["known_at"]
    for _, session in daily.iterrows():
        today = minutes["timestamp"].dt.date == session["timestamp"].date()
        before_close = today & (known < session["known_at"])
        after_close = today & (known >= session["known_at"])
        earlier = daily[daily["known_at"] < session["known_at"]]
        expected = earlier["close"].iloc[-1] / 200 if len(earlier) else np.nan
        np.testing.assert_array_equal(frame.loc[before_close, "vix_level"], expected)
        assert (frame.loc[after_close, "vix_level"] == session["close"] / 200).all()
        # 09:30..15:58 end before the close; the 15:59 bar ends with it (and the 16:00 print)
        assert before_close.sum() == 389 and after_close.sum() >= 1


def test_hourly_bars_see_the_daily_close_only_after_it_happened(sample_dir):
    spy = read_bars_csv(sample_dir / "spy.csv.gz")
    spy = spy[(spy["timestamp"] >= "2016-03-01") & (spy["timestamp"] < "2016-05-01")]
    hours = pd.date_range("2016-03-07", "2016-04-15", freq="h", tz="UTC")
    rng = np.random.default_rng(1)
    fx = flat_bars(hours, 1.1 * np.exp(np.cumsum(rng.normal(0, 1e-3, len(hours)))), "1h",
                   ALWAYS_OPEN)
    frame = compute_features(fx, {"SPY": spy})
    spy_ret = spy["close"].pct_change().to_numpy()
    last = np.searchsorted(spy["known_at"].to_numpy("int64"), fx["known_at"].to_numpy("int64"),
                           side="right") - 1
    np.testing.assert_allclose(frame["spy_ret_1"], spy_ret[last], rtol=1e-12)
    morning = frame["timestamp"] == utc("2016-03-08 09:00")
    assert frame.loc[morning, "spy_ret_1"].item() == pytest.approx(spy_ret[spy["timestamp"] ==
                                                                           utc("2016-03-07")][0])
    # and the other way round: daily SPY bars see the hourly bar that ended by the close
    back = compute_features(spy, {"SECTOR": fx})
    last_hour = np.searchsorted(fx["known_at"].to_numpy("int64"),
                                spy["known_at"].to_numpy("int64"), side="right") - 1
    inside = ((last_hour >= 1) & (spy["known_at"] <= fx["known_at"].iloc[-1])).to_numpy()
    fx_ret = fx["close"].pct_change().to_numpy()
    assert inside.sum() > 20
    np.testing.assert_allclose(back["sector_ret_1"][inside], fx_ret[last_hour[inside]],
                               rtol=1e-12)


def test_daily_crypto_sees_todays_stock_close_and_stocks_yesterdays_crypto(sample_dir):
    spy = read_bars_csv(sample_dir / "spy.csv.gz").iloc[-60:].reset_index(drop=True)
    days = pd.date_range(spy["timestamp"].iloc[0], spy["timestamp"].iloc[-1], freq="D")
    btc = flat_bars(days, 1000 * np.exp(np.linspace(0, 1, len(days))), "1d", ALWAYS_OPEN)
    on_btc = compute_features(btc, {"SPY": spy})
    on_spy = compute_features(spy, {"SECTOR": btc})
    spy_ret = spy.set_index("timestamp")["close"].pct_change()
    btc_ret = btc.set_index("timestamp")["close"].pct_change()
    day = spy["timestamp"].iloc[-1]
    assert on_btc.set_index("timestamp").at[day, "spy_ret_1"] == pytest.approx(spy_ret[day])
    yesterday = day - pd.Timedelta(days=1)
    assert on_spy.set_index("timestamp").at[day, "sector_ret_1"] == pytest.approx(
        btc_ret[yesterday])


def test_the_engine_refuses_a_same_time_bar_with_other_values():
    engine = StreamingEngine()
    bar = {"timestamp": utc("2020-01-02"), "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5,
           "volume": 5.0}
    first = engine.update("X", bar)
    np.testing.assert_array_equal(engine.update("X", dict(bar)), first)  # the same bar: a no-op
    with pytest.raises(BarDataError, match="differs from the bar already seen"):
        engine.update("X", {**bar, "close": 10.6})
    engine.update_context("SPY", utc("2020-01-02"), 300.0)
    engine.update_context("SPY", utc("2020-01-02"), 300.0)
    with pytest.raises(BarDataError, match="differs"):
        engine.update_context("SPY", utc("2020-01-02"), 301.0)


@pytest.mark.parametrize(("change", "field", "problem"), [
    ({"high": 8.0}, "low", "low 9 is above high 8"),
    ({"low": 10.2}, "open", "open 10 is below low 10.2"),
    ({"close": 11.5}, "close", "close 11.5 is above high 11"),
])
def test_inconsistent_ohlc_is_refused_everywhere_naming_row_and_field(change, field, problem):
    bars = pd.DataFrame({"timestamp": pd.date_range("2020-01-02", periods=3, tz="UTC"),
                         "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 1.0})
    bars.loc[1, list(change)] = list(change.values())
    with pytest.raises(BarDataError, match=f"row 1: {problem}") as caught:
        compute_features(bars)
    assert caught.value.field == f"bars, row 1.{field}"
    engine = StreamingEngine()
    engine.update("X", bars.iloc[0].to_dict())
    with pytest.raises(BarDataError, match=problem):
        engine.update("X", bars.iloc[1].to_dict())
    assert engine.seen[0] == 1  # nothing changed
