"""Request bars -> arrays: every value rule checked once over numpy, the 422 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from marketdata.sessions import bar_end
from serving.bodies import (
    bar_arrays,
    bar_series,
    checked_ns,
    context_frames,
    ingest_arrays,
)
from serving.errors import InputError

START = datetime(2024, 1, 2, tzinfo=UTC)


def bars(n: int = 4) -> list[dict]:
    return [{"timestamp": START + timedelta(days=i), "open": 10.0 + i, "high": 11.0 + i,
             "low": 9.0 + i, "close": 10.5 + i, "volume": 1e6} for i in range(n)]


def test_times_are_exact_nanoseconds_whatever_the_zone() -> None:
    eastern = timezone(timedelta(hours=-5))
    times = [START, datetime(2024, 1, 2, 9, 30, 0, 123456, tzinfo=eastern)]
    expected = [pd.Timestamp(t).value for t in times]
    assert checked_ns(times, lambda row: f"bars[{row}]").tolist() == expected
    series = bar_series(bars())
    assert series.stamps.tolist() == [pd.Timestamp(b["timestamp"]).value for b in bars()]
    assert series.values[:, 3].tolist() == [b["close"] for b in bars()]


@pytest.mark.parametrize(("change", "field"), [
    ({"low": -1.0}, "bars[2].low"),
    ({"open": 0.0}, "bars[2].open"),
    ({"close": float("nan")}, "bars[2].close"),
    ({"high": float("inf")}, "bars[2].high"),
    ({"volume": -5.0}, "bars[2].volume"),
    ({"low": 13.5}, "bars[2].low"),  # above the high
    ({"high": 12.2}, "bars[2].close"),  # the close above the high

    ({"timestamp": START + timedelta(days=1)}, "bars[2].timestamp"),
    ({"timestamp": datetime(1899, 12, 31, tzinfo=UTC)}, "bars[2].timestamp"),
    ({"timestamp": datetime(9000, 1, 1, tzinfo=UTC)}, "bars[2].timestamp"),  # past int64 ns
    ({"known_at": datetime(9000, 1, 1, tzinfo=UTC)}, "bars[2].known_at"),
    ({"known_at": START + timedelta(days=1)}, "bars[2].known_at"),  # before its own open
])
def test_each_rule_names_the_bar_and_field(change: dict, field: str) -> None:
    given = bars()
    given[2] = {**given[2], **change}
    with pytest.raises(InputError) as error:
        bar_arrays(given, lambda row: f"bars[{row}]")
    assert error.value.field == field
    assert str(error.value).startswith(f"{field}: ")


def test_context_points_end_by_their_own_timeframe_and_calendar() -> None:
    points = [{"timestamp": START, "close": 1.0},  # daily XNYS: the session's close
              {"timestamp": START + timedelta(hours=1), "close": 1.0, "timeframe": "1h",
               "calendar": "24/7"},
              {"timestamp": START + timedelta(hours=2), "close": 1.0,
               "known_at": START + timedelta(hours=5)}]
    frame = context_frames({"SPY": points})["SPY"]
    assert frame["known_at"].tolist() == [bar_end(START, "1d", "XNYS"),
                                          pd.Timestamp(START + timedelta(hours=2)),
                                          pd.Timestamp(START + timedelta(hours=5))]


def test_ingest_arrays_are_plain_json_and_unordered_across_symbols() -> None:
    tick = {"B": bars(2)[1], "A": bars(1)[0]}
    arrays = ingest_arrays(tick, {"SPY": {"timestamp": START, "close": 400.0}},
                           lambda symbol: f"bars.{symbol}")
    assert arrays["symbols"] == ["B", "A"]
    assert arrays["stamps"] == [pd.Timestamp(START + timedelta(days=1)).value,
                                pd.Timestamp(START).value]
    spy_close = bar_end(START, "1d", "XNYS").value  # a daily context bar is known at its close
    assert arrays["context"] == {"SPY": [pd.Timestamp(START).value, 400.0, spy_close]}
    assert arrays["known_at"] == [bar_end(START + timedelta(days=1), "1d", "XNYS").value,
                                  spy_close]
    with pytest.raises(InputError) as error:
        ingest_arrays({"A": {**tick["A"], "close": -1.0}}, None, lambda s: f"bars.{s}")
    assert error.value.field == "bars.A.close"
    with pytest.raises(InputError) as error:
        ingest_arrays(tick, {"VIX": {"timestamp": START, "close": 0.0}}, lambda s: s)
    assert error.value.field == "context.VIX.close"
