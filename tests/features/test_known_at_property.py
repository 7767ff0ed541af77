"""Property: across random mixes of timeframes and calendars, nothing that ended after bar t
changes a feature or context value at t (batch and streaming), and context values are exactly
those of the latest context bar known by t's end."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.engine import compute_features
from features.lookahead import check_lookahead
from features.replay import stream_features
from marketdata.sessions import ALWAYS_OPEN, exchange_calendar, with_known_at

# (timeframe, calendar) kinds: daily equities, daily crypto, hourly and minute bars
KINDS = [("1d", "XNYS"), ("1d", ALWAYS_OPEN), ("1h", ALWAYS_OPEN), ("1min", "XNYS"),
         ("1h", "XNYS")]
START = pd.Timestamp("2019-11-20", tz="UTC")  # Thanksgiving and its early close inside


def opens(kind: tuple[str, str], n: int, skips: list[int], offset: int) -> pd.DatetimeIndex:
    """``n`` bar opens of ``kind`` from START + ``offset`` hours, skipping some (missing bars)."""
    timeframe, calendar = kind
    begin = START + pd.Timedelta(hours=offset)
    if timeframe == "1d" and calendar != ALWAYS_OPEN:
        day = begin.tz_localize(None).normalize()
        sessions = exchange_calendar(calendar).sessions_in_range(day, day + pd.Timedelta(days=400))
        candidates = pd.DatetimeIndex(sessions).tz_localize("UTC")
    elif timeframe == "1min":
        minutes = exchange_calendar(calendar).minutes_in_range(begin, begin + pd.Timedelta(days=30))
        candidates = pd.DatetimeIndex(minutes)
    else:
        step = pd.Timedelta(days=1) if timeframe == "1d" else pd.Timedelta(hours=1)
        first = begin.normalize() if timeframe == "1d" else begin.floor("h")
        candidates = pd.date_range(first, periods=3 * n + 10, freq=step)
    keep = np.ones(len(candidates), bool)
    keep[[s % len(candidates) for s in skips]] = False
    return candidates[keep][:n].as_unit("ns")


@st.composite
def series(draw, n_min: int = 30, n_max: int = 70) -> pd.DataFrame:
    kind = draw(st.sampled_from(KINDS))
    n = draw(st.integers(n_min, n_max))
    skips = draw(st.lists(st.integers(0, 3 * n), max_size=8))
    stamps = opens(kind, n, skips, draw(st.integers(0, 72)))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(stamps))))
    spread = np.abs(rng.normal(0, 0.005, (2, len(stamps))))
    open_ = close * np.exp(rng.normal(0, 0.003, len(stamps)))
    frame = pd.DataFrame({
        "timestamp": stamps, "open": open_, "close": close,
        "high": np.maximum(open_, close) * (1 + spread[0]),
        "low": np.minimum(open_, close) * (1 - spread[1]),
        "volume": rng.integers(0, 10_000, len(stamps)).astype(float),
    })
    return with_known_at(frame, *kind)


SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(bars=series(), spy=series(), vix=series(10, 40))
def test_no_value_at_t_depends_on_anything_that_ended_after_t(bars, spy, vix):
    context = {"SPY": spy, "VIX": vix}
    for compute in (compute_features, stream_features):
        report = check_lookahead(bars, context, cuts=2, seed=1, compute=compute)
        assert report.passed, report.format()


@SETTINGS
@given(bars=series(), vix=series(10, 40))
def test_context_is_the_latest_bar_known_by_the_end_of_each_bar(bars, vix):
    frame = compute_features(bars, {"VIX": vix})
    known = bars["known_at"].to_numpy("int64")
    vix_known = vix["known_at"].to_numpy("int64")
    last = np.searchsorted(vix_known, known, side="right") - 1
    fresh = (last >= 0) & (known - vix_known[np.maximum(last, 0)] <= pd.Timedelta(days=4).value)
    expected = np.where(fresh, vix["close"].to_numpy()[np.maximum(last, 0)], np.nan)
    np.testing.assert_array_equal(frame["vix_level"], expected)
    streamed = stream_features(bars, {"VIX": vix})
    np.testing.assert_allclose(streamed.iloc[:, 1:], frame.iloc[:, 1:], rtol=1e-9, atol=1e-12)
