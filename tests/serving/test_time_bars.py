"""The HTTP API and time: inconsistent bars get a 422 naming bar and field (nothing changes),
context points are compared on known-at times, and through the live path no forecast at bar t
depends on anything that ended after t."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketdata.sessions import ALWAYS_OPEN, exchange_calendar
from serving.examples import bar_json
from serving.forecasting import MIN_BARS

SPY_SENT: list[dict] = []  # every SPY point the session server accepted, oldest first
EXAMPLES = itertools.count()  # each example starts two weeks after the last one


def test_predict_refuses_inconsistent_ohlc_naming_bar_and_field(client, aapl) -> None:
    bars = [bar_json(bar) for bar in aapl.iloc[-MIN_BARS:].itertuples()]
    broken = dict(bars[7], high=bars[7]["low"] * 0.99)
    response = client.post("/predict", json={"symbol": "AAPL", "bars": [*bars[:7], broken,
                                                                        *bars[8:]]})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "bars[7].low"
    assert f"low {bars[7]['low']:g} is above high" in response.json()["error"]


def test_ingest_refuses_inconsistent_ohlc_and_changes_nothing(client, aapl) -> None:
    bars = [bar_json(bar) for bar in aapl.iloc[-3:].itertuples()]
    assert client.post("/ingest", json={"symbol": "OHLC.T", "bar": bars[0]}).status_code == 200
    bad = dict(bars[1], close=bars[1]["high"] * 1.05)
    response = client.post("/ingest", json={"symbol": "OHLC.T", "bar": bad})
    assert response.status_code == 422 and response.json()["field"] == "bar.close"
    answer = client.post("/ingest", json={"symbol": "OHLC.T", "bar": bars[1]}).json()
    assert answer["added"] and answer["bars"] == 2  # the refused bar left no trace


def test_ingest_refuses_context_that_ends_after_the_bar(client) -> None:
    hour = {"timestamp": "2019-11-19T15:00:00Z", "open": 1.0, "high": 1.1, "low": 0.9,
            "close": 1.0, "volume": 1.0}
    today = {"timestamp": "2019-11-19T00:00:00Z", "close": 310.0}  # known at 21:00 UTC
    response = client.post("/ingest", json={"symbol": "FX.T", "bar": hour, "timeframe": "1h",
                                            "calendar": "24/7", "context": {"QQQ": today}})
    assert response.status_code == 422 and response.json()["field"] == "context.QQQ.known_at"
    late = client.post("/ingest", json={"symbol": "FX.T", "timeframe": "1h", "calendar": "24/7",
                                        "bar": {**hour, "timestamp": "2019-11-19T21:00:00Z"},
                                        "context": {"QQQ": today}})
    assert late.status_code == 200 and late.json()["bars"] == 1
    revised = client.post("/ingest", json={
        "symbol": "FX.T", "timeframe": "1h", "calendar": "24/7",
        "bar": {**hour, "timestamp": "2019-11-19T22:00:00Z"},
        "context": {"QQQ": {**today, "close": 311.0}}})  # the same QQQ bar, another close
    assert revised.status_code == 422 and "differs" in revised.json()["error"]
    signals = client.post("/signals", json={"symbols": ["FX.T"]})
    assert signals.status_code == 200  # the symbol is there, still warming up, one bar
    again = client.post("/ingest", json={"symbol": "FX.T", "timeframe": "1h", "calendar": "24/7",
                                         "bar": {**hour, "timestamp": "2019-11-19T22:00:00Z"}})
    assert again.json()["bars"] == 2


def example_series(seed: int, start: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hourly bars (24/7) with gaps, and daily SPY bars (XNYS sessions, early closes) around."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range(start, periods=MIN_BARS + 40, freq="h")
    hours = hours[rng.random(len(hours)) > 0.15][: MIN_BARS + 4]
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.004, len(hours))))
    bars = pd.DataFrame({"timestamp": hours, "open": close, "high": close * 1.002,
                         "low": close * 0.998, "close": close, "volume": 100.0})
    day = start.tz_localize(None).normalize()
    sessions = exchange_calendar("XNYS").sessions_in_range(day - pd.Timedelta(days=3),
                                                           day + pd.Timedelta(days=14))
    spy = pd.DataFrame({"timestamp": pd.DatetimeIndex(sessions).tz_localize("UTC"),
                        "close": 300 * np.exp(np.cumsum(rng.normal(0, 0.01, len(sessions))))})
    spy["known_at"] = exchange_calendar("XNYS").schedule.loc[sessions, "close"].to_numpy()
    return bars, spy


@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31), try_future=st.floats(0.0, 0.5))
def test_live_forecasts_never_see_what_ended_later(client, seed, try_future) -> None:
    # Thanksgiving 2019 (early close on the 29th) lies inside the first example
    start = pd.Timestamp("2019-11-25", tz="UTC") + pd.Timedelta(days=14 * next(EXAMPLES))
    bars, spy = example_series(seed, start)
    symbol, rng = f"LIVE.{seed % 10_000}.{start:%m%d}", np.random.default_rng(seed)
    spy = spy[[pd.Timestamp(t) > pd.Timestamp(SPY_SENT[-1]["timestamp"]) for t in spy.timestamp]
              ] if SPY_SENT else spy
    sent = 0  # SPY rows of this example already ingested
    for row in bars.itertuples():
        end = row.timestamp + pd.Timedelta(hours=1)
        request = {"symbol": symbol, "bar": bar_json(row), "timeframe": "1h",
                   "calendar": ALWAYS_OPEN}
        due = int((spy["known_at"] <= end).sum())
        if sent < len(spy) and rng.random() < try_future and due == sent:
            future = {"timestamp": spy.timestamp.iloc[sent].isoformat(),
                      "close": float(spy.close.iloc[sent])}
            refused = client.post("/ingest", json={**request, "context": {"SPY": future}})
            assert refused.status_code == 422, refused.text  # ends after the bar
        if due > sent:
            point = {"timestamp": spy.timestamp.iloc[due - 1].isoformat(),
                     "close": float(spy.close.iloc[due - 1])}
            request["context"] = {"SPY": point}
            SPY_SENT.append(point)
            sent = due
        answer = client.post("/ingest", json=request)
        assert answer.status_code == 200, answer.text
    live = answer.json()["forecast"]
    # the same bars through /predict, with SPY's later bars (perturbed) in the request: no change
    later = [{"timestamp": t.isoformat(), "close": float(c) * rng.uniform(0.5, 2.0)}
             for t, c in zip(spy.timestamp.iloc[sent:], spy.close.iloc[sent:], strict=True)]
    body = {"symbol": symbol, "bars": [bar_json(row) for row in bars.itertuples()],
            "timeframe": "1h", "calendar": ALWAYS_OPEN, "context": {"SPY": SPY_SENT + later}}
    batch = client.post("/predict", json=body)
    assert batch.status_code == 200, batch.text
    for got, want in zip(batch.json()["forecasts"], live["forecasts"], strict=True):
        np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=1e-4, atol=1e-6)
