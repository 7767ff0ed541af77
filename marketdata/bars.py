"""The bar frame: the one shape in which market bars travel through tradecast, and the one
validation every way in (store, CSV import, sources, engine, context, service, live path) uses.

A bar frame is a :class:`pandas.DataFrame` with the columns

- ``timestamp``: ``datetime64[ns, UTC]``, the bar's open time; daily bars sit at the session
  date, 00:00 UTC;
- ``open``, ``high``, ``low``, ``close``, ``volume``: float64; prices are split-adjusted as the
  vendors deliver them (features use ``close``);
- ``known_at`` (optional): ``datetime64[ns, UTC]``, when the bar became known, its end (see
  :mod:`marketdata.sessions` for the rules and for frames that lack it);
- ``adj_close`` (only when the vendor has it): float64, close adjusted for dividends too; NaN
  where unknown;

sorted by ``timestamp`` with no duplicated timestamps. The rules, checked on arrays by
:func:`check_bar_values` and :func:`check_bar_times` (the engine and the service call them
directly) and on frames by :func:`validate_bars`:

- prices finite and > 0, volume finite and >= 0;
- OHLC consistent: ``low <= open <= high``, ``low <= close <= high`` (so ``low <= high``);
- times strictly increasing; ``known_at`` strictly increasing and after ``timestamp``.

Each failure is a :class:`BarDataError` naming the row and the field. Bars that are odd but
usable (a zero volume, a gap) are kept; :mod:`marketdata.quality` reports them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numba import njit

from contract.errors import BarDataError

Fail = Callable[[object, str], BarDataError]  # makes the error for a row label and a problem
Where = Callable[[int], str]  # names row i in a message ("bars[3]", "AAPL.csv, line 5")

PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_VALUES = (*PRICE_COLUMNS, "volume")  # the columns of an (n, 5) OHLCV array
BAR_COLUMNS = ("timestamp", *BAR_VALUES)
OPTIONAL_COLUMNS = ("adj_close",)
OPEN, HIGH, LOW, CLOSE, VOLUME = range(5)

# Bar lengths the store and the sources understand, as pandas offsets.
TIMEFRAMES: dict[str, pd.Timedelta] = {
    "1min": pd.Timedelta(minutes=1),
    "5min": pd.Timedelta(minutes=5),
    "15min": pd.Timedelta(minutes=15),
    "1h": pd.Timedelta(hours=1),
    "1d": pd.Timedelta(days=1),
}


def check_timeframe(timeframe: str) -> str:
    """Return ``timeframe`` if tradecast knows it, else raise :class:`BarDataError`."""
    if timeframe not in TIMEFRAMES:
        known = ", ".join(TIMEFRAMES)
        raise BarDataError(f"unknown timeframe {timeframe!r}; use one of {known}")
    return timeframe


@njit(cache=True)
def bar_ok(o: float, h: float, low: float, c: float, v: float) -> bool:
    """THE bar rule on one OHLCV bar (compiled: the streaming engine calls it per bar)."""
    for x in (o, h, low, c):
        if not (x > 0.0 and x < np.inf):  # False for NaN too
            return False
    return v >= 0.0 and v < np.inf and low <= o <= h and low <= c <= h


@njit(cache=True)
def first_bad_bar(values: np.ndarray) -> int:
    """The first row of (n, 5) OHLCV ``values`` that breaks the rule, -1 if none."""
    for i in range(values.shape[0]):
        if not bar_ok(values[i, 0], values[i, 1], values[i, 2], values[i, 3], values[i, 4]):
            return i
    return -1


def check_bar_values(values: np.ndarray, where: Where) -> None:
    """Refuse (n, 5) OHLCV rows that break a rule (see the module docstring); ``where(i)`` names
    row ``i``. The error names the first bad row and field, e.g. ``bars[3].low``."""
    values = np.ascontiguousarray(values, dtype=np.float64).reshape(-1, len(BAR_VALUES))
    i = first_bad_bar(values)
    if i < 0:
        return
    name, problem = _bar_problem(values[i])
    raise BarDataError(f"{where(i)}: {problem}", field=f"{where(i)}.{name}")


def _bar_problem(row: np.ndarray) -> tuple[str, str]:
    """The first broken rule of one OHLCV row: (field, problem)."""
    for f, name in enumerate(BAR_VALUES):
        if np.isnan(row[f]) or np.isinf(row[f]):
            return name, f"{name} is {'missing (NaN)' if np.isnan(row[f]) else 'infinite'}"
        if f < VOLUME and row[f] <= 0:
            return name, f"{name} is {row[f]:g}, prices must be positive"
    if row[VOLUME] < 0:
        return "volume", f"volume is {row[VOLUME]:g} (< 0)"
    if row[LOW] > row[HIGH]:
        return "low", f"low {row[LOW]:g} is above high {row[HIGH]:g}"
    for f, name in ((OPEN, "open"), (CLOSE, "close")):
        if row[f] < row[LOW]:
            return name, f"{name} {row[f]:g} is below low {row[LOW]:g}"
        if row[f] > row[HIGH]:
            return name, f"{name} {row[f]:g} is above high {row[HIGH]:g}"
    raise AssertionError("a row that breaks no rule")  # check_bar_values found one broken


def check_closes(close: np.ndarray, where: Where) -> None:
    """Refuse close-only points (market context) whose close is not finite and > 0."""
    bad = ~(np.isfinite(close) & (close > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise BarDataError(f"{where(i)}: close {close[i]:g} must be a finite number > 0",
                           field=f"{where(i)}.close")


def check_bar_times(stamps: np.ndarray, where: Where, name: str = "timestamp") -> None:
    """Refuse int64-ns times that are not strictly increasing, naming the row and field."""
    steps = np.diff(np.asarray(stamps, dtype=np.int64))
    if len(steps) == 0 or steps.min() > 0:
        return
    i = int(np.argmax(steps <= 0)) + 1
    problem = "repeats the previous bar's" if steps[i - 1] == 0 else "is before the previous bar's"
    shown = pd.Timestamp(int(stamps[i]), tz="UTC")
    raise BarDataError(f"{where(i)}: {name} {shown} {problem}", field=f"{where(i)}.{name}")


def check_known_at(stamps: np.ndarray, known_at: np.ndarray, where: Where) -> None:
    """Refuse known-at times that are not strictly increasing or not after their bar's open."""
    check_bar_times(known_at, where, "known_at")
    early = np.asarray(known_at) <= np.asarray(stamps)
    if early.any():
        i = int(np.argmax(early))
        raise BarDataError(f"{where(i)}: known_at {pd.Timestamp(int(known_at[i]), tz='UTC')} is "
                           "not after the bar's timestamp (a bar is known at its end)",
                           field=f"{where(i)}.known_at")


def check_bars(stamps: np.ndarray, values: np.ndarray, known_at: np.ndarray | None,
               where: Where) -> None:
    """The whole rule on arrays: int64-ns open times, (n, 5) OHLCV values and (optionally)
    known-at times, as a request or a live feed delivers them."""
    check_bar_times(stamps, where)
    check_bar_values(values, where)
    if known_at is not None:
        check_known_at(stamps, known_at, where)


def parse_utc(moment: str | pd.Timestamp, label: str = "time") -> pd.Timestamp:
    """A date or time as a UTC timestamp; one without a zone is taken to be UTC."""
    try:
        stamp = pd.Timestamp(moment)
    except ValueError:
        raise BarDataError(f"{label} {moment!r} is not a date or time") from None
    if pd.isna(stamp):
        raise BarDataError(f"{label} {moment!r} is not a date or time")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def empty_bars(with_adj_close: bool = False) -> pd.DataFrame:
    """A bar frame with no rows but the right columns and dtypes."""
    columns = BAR_COLUMNS + (OPTIONAL_COLUMNS if with_adj_close else ())
    frame = pd.DataFrame({name: pd.Series(dtype="float64") for name in columns})
    frame["timestamp"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame


def validate_bars(frame: pd.DataFrame, origin: str, *, row_name: str = "row") -> pd.DataFrame:
    """Check ``frame`` and return it as a clean bar frame (a new object; the input is untouched).

    ``origin`` (a file name, a symbol, a vendor request) starts every error message. Rows are
    named by ``frame``'s index labels, called ``row_name`` (the CSV importer passes file line
    numbers and ``"line"``). Unsorted rows are sorted; a bar repeated with identical values is
    kept once; the same timestamp with different values is an error.
    """
    def fail(label: object, problem: str) -> BarDataError:
        return BarDataError(f"{origin}, {row_name} {label}: {problem}")

    missing = [name for name in BAR_COLUMNS if name not in frame.columns]
    if missing:
        raise BarDataError(f"{origin}: missing column {', '.join(map(repr, missing))}")
    if frame.empty:
        raise BarDataError(f"{origin}: no bars")
    bars = pd.DataFrame({"timestamp": _utc_timestamps(frame["timestamp"], "timestamp", fail)})
    for name in (*BAR_VALUES, *(n for n in OPTIONAL_COLUMNS if n in frame.columns)):
        bars[name] = _numbers(frame[name], name, fail)
    if "known_at" in frame.columns:
        bars["known_at"] = _utc_timestamps(frame["known_at"], "known_at", fail)
    if "adj_close" in bars and (bars["adj_close"] <= 0).any():  # NaN means "not known"
        label = bars.index[(bars["adj_close"] <= 0).argmax()]
        raise fail(label, f"adj_close is {bars.at[label, 'adj_close']:g}, prices must be positive")

    labels = bars.index
    check_bar_values(bars[list(BAR_VALUES)].to_numpy(), lambda i: f"{origin}, {row_name} "
                     f"{labels[i]}")
    bars = bars.sort_values("timestamp", kind="stable")
    bars = _drop_repeated_bars(bars, fail, row_name)
    if "known_at" in bars:
        labels = bars.index
        check_known_at(bars["timestamp"].to_numpy("int64"), bars["known_at"].to_numpy("int64"),
                       lambda i: f"{origin}, {row_name} {labels[i]}")
    return bars.reset_index(drop=True)


def _utc_timestamps(column: pd.Series, name: str, fail: Fail) -> pd.Series:
    """Timestamps as ``datetime64[ns, UTC]``; naive ones are taken to be UTC already."""
    if pd.api.types.is_datetime64_any_dtype(column):
        stamps = column
    else:
        stamps = pd.to_datetime(column, errors="coerce", utc=True, format="ISO8601")
    bad = stamps.isna()
    if bad.any():
        label = column.index[bad.argmax()]
        raise fail(label, f"{name} {column[label]!r} is not a date")
    if stamps.dt.tz is None:
        stamps = stamps.dt.tz_localize("UTC")
    return stamps.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def _numbers(column: pd.Series, name: str, fail: Fail) -> pd.Series:
    """A column as float64; text that is not a number is an error naming the first bad row."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype("float64")
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna() & column.notna()
    if bad.any():
        label = column.index[bad.argmax()]
        raise fail(label, f"{name} {column[label]!r} is not a number")
    return numbers.astype("float64")


def _drop_repeated_bars(bars: pd.DataFrame, fail: Fail, row_name: str) -> pd.DataFrame:
    """Keep one copy of each repeated bar; refuse two different bars at the same time."""
    repeated = bars["timestamp"].duplicated(keep=False)
    if not repeated.any():
        return bars
    # Identical rows are the same bar delivered twice; anything left over is a conflict.
    # adj_close is left out: vendors revise it when dividends are paid.
    compared = ["timestamp", *PRICE_COLUMNS, "volume"]
    distinct = bars[repeated].drop_duplicates(subset=compared)
    conflict = distinct["timestamp"].duplicated(keep=False)
    if conflict.any():
        rows = distinct.index[conflict][:2]
        stamp = distinct.loc[rows[0], "timestamp"]
        raise fail(rows[1], f"timestamp {stamp} repeats {row_name} {rows[0]} with other values")
    return bars.drop_duplicates(subset="timestamp", keep="first")
