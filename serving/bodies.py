"""Request bodies in, numpy arrays out, every value rule checked once over the arrays.

pydantic-core has already checked the shapes and types (`serving.schemas`: strict, unknown
fields refused, NaN and inf refused); what is left is checked here on whole arrays: bar values
(`features.engine.check_bar_values`: finite prices > 0, volume >= 0, and whatever else that one
validation checks), times between 1900 and 2200 and strictly increasing within a series, context
closes > 0. A failure is an `InputError` (HTTP 422) naming the bar and field, e.g.
``bars[12].low`` or ``requests[3].bars[0].timestamp``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from features.engine import BAR_VALUES, check_bar_values
from features.errors import BarDataError
from serving.errors import InputError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
FIRST_NS = (datetime(1900, 1, 1, tzinfo=UTC) - EPOCH) // MICROSECOND * 1000  # earliest time
LAST_NS = (datetime(2200, 1, 1, tzinfo=UTC) - EPOCH) // MICROSECOND * 1000  # latest time

Where = Callable[[int], str]  # row index -> the request field it came from


def time_ns(times: Sequence[datetime]) -> np.ndarray:
    """Aware datetimes as int64 nanoseconds since the epoch (exact: integer arithmetic)."""
    micros = np.fromiter(((t - EPOCH) // MICROSECOND for t in times), np.int64, len(times))
    return micros * 1000


def check_times(stamps: np.ndarray, where: Where, ordered: bool) -> None:
    """Times in range and, when ``ordered``, strictly increasing (refused, never re-sorted)."""
    outside = (stamps < FIRST_NS) | (stamps > LAST_NS)
    if outside.any():
        raise InputError(f"{where(int(np.argmax(outside)))}.timestamp",
                         "must be between 1900 and 2200")
    if ordered and len(stamps) > 1:
        steps = np.diff(stamps) <= 0
        if steps.any():
            raise InputError(f"{where(int(np.argmax(steps)) + 1)}.timestamp",
                             "not after the previous bar's")


def bad_field(row: np.ndarray) -> str | None:
    """The first field of one OHLCV row that breaks a bar rule (None: none alone does)."""
    for index, name in enumerate(BAR_VALUES):
        value = row[index]
        if not np.isfinite(value) or value < 0 or (value == 0 and name != "volume"):
            return name
    open_, high, low, close = row[:4]
    if low > min(open_, close, high):
        return "low"
    if high < max(open_, close):
        return "high"
    return None


def check_values(values: np.ndarray, where: Where) -> None:
    """`check_bar_values` over (bars, 5) OHLCV rows; its error becomes a 422 naming the field."""
    failed: list[int] = []

    def named(row: int) -> str:
        failed.append(row)
        return where(row)

    try:
        check_bar_values(values, named)
    except BarDataError as error:
        row = failed[-1] if failed else 0
        prefix = where(row)
        field = bad_field(values[row])
        message = str(error).removeprefix(f"{prefix}: ")
        raise InputError(f"{prefix}.{field}" if field else prefix, message) from None


def bar_arrays(bars: Sequence[Mapping], where: Where, ordered: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
    """Validated bars as (n,) int64 ns times and (n, 5) float64 OHLCV values."""
    stamps = time_ns([bar["timestamp"] for bar in bars])
    check_times(stamps, where, ordered)
    values = np.array([[bar[name] for name in BAR_VALUES] for bar in bars], dtype=np.float64)
    check_values(values, where)
    return stamps, values


def bars_frame(bars: Sequence[Mapping], field: str = "bars") -> pd.DataFrame:
    """Request bars (dicts with timestamp, open, high, low, close, volume) as a bar frame."""
    stamps, values = bar_arrays(bars, lambda row: f"{field}[{row}]")
    frame = pd.DataFrame(values, columns=list(BAR_VALUES))
    frame.insert(0, "timestamp", pd.DatetimeIndex(stamps.view("datetime64[ns]"), tz=UTC))
    return frame


def context_points(points: Sequence[Mapping], where: Where, ordered: bool
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Context points (timestamp, close) as ns times and closes, checked."""
    stamps = time_ns([point["timestamp"] for point in points])
    check_times(stamps, where, ordered)
    closes = np.array([point["close"] for point in points], dtype=np.float64)
    bad = ~(closes > 0)
    if bad.any():
        raise InputError(f"{where(int(np.argmax(bad)))}.close", "must be > 0")
    return stamps, closes


def context_frames(context: Mapping[str, Sequence[Mapping]] | None, field: str = "context"
                   ) -> dict[str, pd.DataFrame] | None:
    """Request context series (name -> points, oldest first) as frames for the features."""
    if not context:
        return None
    frames = {}
    for name, points in context.items():
        prefix = f"{field}.{name}"
        stamps, closes = context_points(points, lambda row, p=prefix: f"{p}[{row}]", True)
        times = pd.DatetimeIndex(stamps.view("datetime64[ns]"), tz=UTC)
        frames[name] = pd.DataFrame({"timestamp": times, "close": closes})
    return frames


def ingest_arrays(bars: Mapping[str, Mapping], context: Mapping[str, Mapping] | None,
                  where: Callable[[str], str]) -> dict:
    """One bar per symbol (and the context closes with them) as the live-state service's
    input: ``symbols``, ``stamps`` (ns), ``values`` (rows of OHLCV), ``context``
    (name -> [ns, close]); plain JSON, checked."""
    symbols = list(bars)
    stamps, values = bar_arrays(list(bars.values()), lambda row: where(symbols[row]),
                                ordered=False)
    names = list(context or {})
    points = [context[name] for name in names] if context else []
    context_stamps, closes = context_points(points, lambda row: f"context.{names[row]}", False)
    return {
        "symbols": symbols, "stamps": stamps.tolist(), "values": values.tolist(),
        "context": {name: [int(t), float(c)] for name, t, c in
                    zip(names, context_stamps, closes, strict=True)},
    }
