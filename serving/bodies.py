"""Request bodies in, numpy arrays out, every value rule checked once over the arrays.

pydantic-core has already checked the shapes and types (`serving.schemas`: strict, unknown
fields refused, NaN and inf refused); what is left is checked here on whole arrays with the one
bar validation of `marketdata.bars` (finite prices > 0, volume >= 0, OHLC consistent, times
strictly increasing, known-at times after the open), plus the times' range (1900 to 2200) and
context closes > 0. A failure is an `InputError` (HTTP 422) naming the bar and field, e.g.
``bars[12].low`` or ``requests[3].bars[0].timestamp``.

Every bar and context point also gets the time it became known (``known_at``): the one the
client states, else its end from the timeframe and calendar (`marketdata.sessions.bar_ends`).
A predict request's bars become a `BarSeries` (arrays), its context series small frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import chain
from operator import itemgetter

import numpy as np
import pandas as pd

from contract.errors import BarDataError
from marketdata.bars import (
    BAR_VALUES,
    check_bar_times,
    check_bar_values,
    check_bars,
    check_closes,
    check_known_at,
)
from marketdata.sessions import DEFAULT_CALENDAR, KNOWN_AT, bar_ends
from serving.errors import InputError
from serving.forecasting import BarSeries

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
FIRST_NS = (datetime(1900, 1, 1, tzinfo=UTC) - EPOCH) // MICROSECOND * 1000  # earliest time
LAST_NS = (datetime(2200, 1, 1, tzinfo=UTC) - EPOCH) // MICROSECOND * 1000  # latest time
DEFAULT_TIMEFRAME = "1d"

Where = Callable[[int], str]  # row index -> the request field it came from
BAR_ROW = itemgetter(*BAR_VALUES)  # a bar's OHLCV values in order


def checked_ns(times: Sequence[datetime], where: Where, name: str = "timestamp") -> np.ndarray:
    """Aware datetimes as int64 nanoseconds since the epoch (exact: integer arithmetic),
    refusing times outside 1900 to 2200 (what pandas can hold and a market can have); checked
    in microseconds, since a later time would overflow int64 nanoseconds."""
    micros = np.fromiter(((t - EPOCH) // MICROSECOND for t in times), np.int64, len(times))
    outside = (micros < FIRST_NS // 1000) | (micros > LAST_NS // 1000)
    if outside.any():
        raise InputError(f"{where(int(np.argmax(outside)))}.{name}",
                         "must be between 1900 and 2200")
    return micros * 1000


def known_times(items: Sequence[Mapping], stamps: np.ndarray, where: Where, *,
                timeframe: str, calendar: str) -> np.ndarray:
    """When each bar or context point became known: its stated ``known_at``, else its end from
    its own ``timeframe`` and ``calendar`` (context points may carry them), else the given
    ones; one `bar_ends` call per distinct timeframe and calendar."""
    stated = set(chain.from_iterable(items)) & {"timeframe", "calendar", KNOWN_AT}  # keys
    if not stated:  # the usual request: every point of the series' own timeframe
        return bar_ends(stamps, timeframe, calendar)
    groups: dict[tuple[str, str], list[int]] = {}
    for row, item in enumerate(items):
        key = (item.get("timeframe", timeframe), item.get("calendar", calendar))
        groups.setdefault(key, []).append(row)
    known = np.empty(len(items), dtype=np.int64)
    for (own_timeframe, own_calendar), rows in groups.items():
        known[rows] = bar_ends(stamps[rows], own_timeframe, own_calendar)
    stated = [row for row, item in enumerate(items) if KNOWN_AT in item]
    if stated:
        known[stated] = checked_ns([items[row][KNOWN_AT] for row in stated],
                                   lambda i: where(stated[i]), KNOWN_AT)
    return known


@contextmanager
def as_input_error() -> Iterator[None]:
    """The bar validation's `BarDataError` as the 422 `InputError` naming its field."""
    try:
        yield
    except InputError:
        raise
    except BarDataError as error:
        field = error.field or "bars"
        message = str(error).split(": ", 1)[-1]
        raise InputError(field, message) from None


def bar_arrays(bars: Sequence[Mapping], where: Where, *, ordered: bool = True,
               timeframe: str = DEFAULT_TIMEFRAME, calendar: str = DEFAULT_CALENDAR
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated bars as (n,) int64 ns open times, (n, 5) float64 OHLCV values and (n,) int64
    ns known-at times. ``ordered``: one series (times strictly increasing); else one bar each
    of several symbols."""
    stamps = checked_ns([bar["timestamp"] for bar in bars], where)
    values = np.array(list(map(BAR_ROW, bars)), dtype=np.float64)
    known = known_times(bars, stamps, where, timeframe=timeframe, calendar=calendar)
    with as_input_error():
        if ordered:
            check_bars(stamps, values, known, where)
        else:  # one bar per symbol: the value rules over all rows at once, times bar by bar
            check_bar_values(values, where)
            early = np.flatnonzero(known <= stamps)  # only a stated known_at can be early
            if early.size:
                row = int(early[0])
                check_known_at(stamps[row:row + 1], known[row:row + 1], lambda _: where(row))
    return stamps, values, known


def warm_up() -> None:
    """Pay the first request's one-off cost at start-up: building the default calendar's
    sessions took about 0.5 s, so each worker's first predict or ingest waited that long (the
    mixed load's p99 in a short run)."""
    recent = (datetime(2020, 1, 2, tzinfo=UTC) - EPOCH) // MICROSECOND * 1000  # any date will do
    bar_ends(np.array([recent], dtype=np.int64), DEFAULT_TIMEFRAME, DEFAULT_CALENDAR)


def bar_series(bars: Sequence[Mapping], field: str = "bars", *,
               timeframe: str = DEFAULT_TIMEFRAME, calendar: str = DEFAULT_CALENDAR
               ) -> BarSeries:
    """Request bars (dicts with timestamp, open, high, low, close, volume, optional known_at),
    checked, as the arrays the forecaster takes (no frame: on a 120-bar request building one
    cost more than the checks)."""
    stamps, values, known = bar_arrays(bars, lambda row: f"{field}[{row}]",
                                       timeframe=timeframe, calendar=calendar)
    return BarSeries(stamps, values, known)


def context_points(points: Sequence[Mapping], where: Where, ordered: bool
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Context points (timestamp, close, optional known_at, timeframe, calendar) as ns open
    times, closes and ns known-at times, checked."""
    stamps = checked_ns([point["timestamp"] for point in points], where)
    closes = np.array([point["close"] for point in points], dtype=np.float64)
    known = known_times(points, stamps, where, timeframe=DEFAULT_TIMEFRAME,
                        calendar=DEFAULT_CALENDAR)
    with as_input_error():
        check_closes(closes, where)
        if ordered:
            check_bar_times(stamps, where)
    return stamps, closes, known


def context_frames(context: Mapping[str, Sequence[Mapping]] | None, field: str = "context"
                   ) -> dict[str, pd.DataFrame] | None:
    """Request context series (name -> points, oldest first) as frames for the features."""
    if not context:
        return None
    frames = {}
    for name, points in context.items():
        prefix = f"{field}.{name}"
        stamps, closes, known = context_points(points, lambda row, p=prefix: f"{p}[{row}]", True)
        frames[name] = pd.DataFrame({
            "timestamp": pd.DatetimeIndex(stamps.view("datetime64[ns]"), tz=UTC),
            "close": closes,
            KNOWN_AT: pd.DatetimeIndex(known.view("datetime64[ns]"), tz=UTC),
        })
    return frames


def ingest_arrays(bars: Mapping[str, Mapping], context: Mapping[str, Mapping] | None,
                  where: Callable[[str], str], *, timeframe: str = DEFAULT_TIMEFRAME,
                  calendar: str = DEFAULT_CALENDAR) -> dict:
    """One bar per symbol (and the context closes with them) as the live-state service's
    input: ``symbols``, ``stamps`` and ``known_at`` (ns), ``values`` (rows of OHLCV),
    ``context`` (name -> [ns open, close, ns known-at]); plain JSON, checked."""
    symbols = list(bars)
    stamps, values, known = bar_arrays(list(bars.values()), lambda row: where(symbols[row]),
                                       ordered=False, timeframe=timeframe, calendar=calendar)
    names = list(context or {})
    points = [context[name] for name in names] if context else []
    context_stamps, closes, context_known = context_points(
        points, lambda row: f"context.{names[row]}", False)
    return {
        "symbols": symbols, "stamps": stamps.tolist(), "values": values.tolist(),
        "known_at": known.tolist(),
        "context": {name: [int(t), float(c), int(k)] for name, t, c, k in
                    zip(names, context_stamps, closes, context_known, strict=True)},
    }
