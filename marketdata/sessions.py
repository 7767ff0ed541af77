"""When a bar became known: its end, from its open time, its length and its trading calendar.

Every bar frame may carry ``known_at`` next to ``timestamp`` (the open): the moment its values
were final. Every join in tradecast (market context, live ingest, look-ahead checks) compares
``known_at`` times, so daily context on hourly bars, hourly context on daily bars and crypto
against equities are all correct. The rules (one place for them):

- an **intraday** bar (``1min`` .. ``1h``) ends at ``timestamp + length``, on any calendar;
- a **daily** bar of an exchange calendar (``XNYS`` by default, any ``exchange_calendars`` name)
  ends at its session's close, early closes included (2019-11-29, the day after Thanksgiving:
  13:00 New York = 18:00 UTC); a date the calendar does not list as a session (or outside its
  range) ends at 24:00 UTC of that date, the latest it could be;
- a **daily** bar of the ``24/7`` calendar (crypto; the daily bars of any UTC-day vendor) ends
  at 24:00 UTC of its date.

A frame without ``known_at`` (built by hand, or an old store file) gets one from its timeframe
when the caller knows it, else by a conservative guess (:func:`known_at_ns`): bars all at 00:00
UTC are daily bars ending at 24:00 UTC, other bars last as long as the smallest step between
them. The guess can make a bar known later than it was, never earlier.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from contract.errors import BarDataError
from marketdata.bars import TIMEFRAMES, check_timeframe

ALWAYS_OPEN = "24/7"  # the calendar of crypto: daily bars are UTC days
DEFAULT_CALENDAR = "XNYS"  # the calendar of a symbol that says nothing else (US stocks, indices)
CALENDAR_START_YEAR = 1990  # calendars are built once from here (earlier when the data is older)
DAY_NS = 86_400 * 10**9
KNOWN_AT = "known_at"  # the bar frame column


def calendar_for(symbol: str) -> str:
    """The calendar a symbol trades on unless told otherwise: a pair (``BTC/USDT``,
    ``EUR/USD``) is ``24/7``, anything else ``XNYS``."""
    return ALWAYS_OPEN if "/" in symbol else DEFAULT_CALENDAR


@functools.lru_cache(maxsize=8)
def exchange_calendar(name: str, first_year: int = CALENDAR_START_YEAR):
    """The ``exchange_calendars`` calendar ``name``, built from ``first_year`` (cached)."""
    import exchange_calendars

    try:
        return exchange_calendars.get_calendar(name, start=f"{first_year}-01-01")
    except exchange_calendars.errors.InvalidCalendarName:
        raise BarDataError(f"unknown trading calendar {name!r}; use an exchange_calendars "
                           f"name such as XNYS, or {ALWAYS_OPEN!r}") from None


def check_calendar(name: str) -> str:
    """Return ``name`` if it is ``24/7`` or a known exchange calendar, else raise."""
    if name != ALWAYS_OPEN:
        exchange_calendar(name)
    return name


def bar_ends(opens: np.ndarray, timeframe: str, calendar: str) -> np.ndarray:
    """The known-at times (int64 UTC ns) of bars of ``timeframe`` opening at ``opens``."""
    opens = np.asarray(opens, dtype=np.int64)
    if check_timeframe(timeframe) != "1d" or check_calendar(calendar) == ALWAYS_OPEN:
        return opens + TIMEFRAMES[timeframe].value
    return session_closes(opens, calendar)


def session_closes(dates: np.ndarray, calendar: str) -> np.ndarray:
    """The close (int64 UTC ns) of each session dated ``dates`` (UTC ns within the date);
    24:00 UTC of the date where the calendar has no session on it."""
    days = np.asarray(dates, dtype=np.int64) // DAY_NS * DAY_NS
    if len(days) == 0:
        return days
    first_year = min(pd.Timestamp(int(days.min())).year, CALENDAR_START_YEAR)
    sessions, closes = session_table(calendar, first_year)
    at = np.minimum(np.searchsorted(sessions, days), len(sessions) - 1)
    return np.where(sessions[at] == days, closes[at], days + DAY_NS)


@functools.lru_cache(maxsize=8)
def session_table(calendar: str, first_year: int) -> tuple[np.ndarray, np.ndarray]:
    """The calendar's session dates and closes as int64 UTC ns (cached: reading them out of the
    schedule took most of a 120-bar request's validation)."""
    schedule = exchange_calendar(calendar, first_year).schedule
    sessions = schedule.index.as_unit("ns").asi8.copy()
    closes = schedule["close"].dt.as_unit("ns").to_numpy("int64").copy()
    sessions.flags.writeable = closes.flags.writeable = False  # shared by every caller
    return sessions, closes


def infer_ends(opens: np.ndarray) -> np.ndarray:
    """Known-at times for bars whose timeframe nobody stated (see the module docstring)."""
    opens = np.asarray(opens, dtype=np.int64)
    if (opens % DAY_NS == 0).all():
        return opens + DAY_NS
    steps = np.diff(opens)
    steps = steps[steps > 0]
    if len(steps) == 0:
        raise BarDataError("bars: one intraday bar says nothing of its length; give known_at "
                           "or a timeframe")
    return opens + int(steps.min())


def known_at_ns(bars: pd.DataFrame, origin: str, timeframe: str | None = None,
                calendar: str | None = None) -> np.ndarray:
    """The bars' known-at times as int64 UTC ns: the ``known_at`` column when there is one,
    else from ``timeframe`` and ``calendar`` (default ``XNYS``), else :func:`infer_ends`."""
    opens = bars["timestamp"].dt.tz_convert("UTC").astype("datetime64[ns, UTC]").to_numpy("int64")
    if KNOWN_AT in bars.columns:
        column = bars[KNOWN_AT]
        if not isinstance(column.dtype, pd.DatetimeTZDtype) or column.isna().any():
            raise BarDataError(f"{origin}: known_at must be UTC times on every bar", field=KNOWN_AT)
        return column.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").to_numpy("int64")
    if timeframe is not None:
        return bar_ends(opens, timeframe, calendar or DEFAULT_CALENDAR)
    return infer_ends(opens)


def with_known_at(bars: pd.DataFrame, timeframe: str, calendar: str) -> pd.DataFrame:
    """``bars`` (a validated bar frame) with its ``known_at`` column; one already there is kept
    (it was stated by the vendor or the file)."""
    if KNOWN_AT in bars.columns:
        return bars
    opens = bars["timestamp"].dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    ends = bar_ends(opens.to_numpy("int64"), timeframe, calendar)
    stamped = bars.copy()
    stamped[KNOWN_AT] = pd.to_datetime(ends, utc=True).as_unit("ns")
    return stamped


def bar_end(timestamp: object, timeframe: str, calendar: str) -> pd.Timestamp:
    """The known-at time of one bar opening at ``timestamp`` (naive means UTC)."""
    stamp = pd.Timestamp(timestamp)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    end = bar_ends(np.array([stamp.as_unit("ns").value]), timeframe, calendar)[0]
    return pd.Timestamp(int(end), tz="UTC")
