"""The bar frame: the one shape in which market bars travel through tradecast.

A bar frame is a :class:`pandas.DataFrame` with the columns

- ``timestamp``: ``datetime64[ns, UTC]``, the bar's open time; daily bars sit at the session
  date, 00:00 UTC;
- ``open``, ``high``, ``low``, ``close``, ``volume``: float64; prices are split-adjusted as the
  vendors deliver them (features use ``close``);
- ``adj_close`` (only when the vendor has it): float64, close adjusted for dividends too; NaN
  where unknown;

sorted by ``timestamp`` with no duplicated timestamps. :func:`validate_bars` turns any frame
with those columns into that shape or raises :class:`BarDataError` naming the origin and row.

Validation only refuses bars that cannot be used at all (missing, unparseable, non-positive or
conflicting values). Bars that are odd but real (a close a cent above the high, a zero volume)
are kept; :mod:`features.quality` reports them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from features.errors import BarDataError

Fail = Callable[[object, str], BarDataError]  # makes the error for a row label and a problem

PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_COLUMNS = ("timestamp", *PRICE_COLUMNS, "volume")
OPTIONAL_COLUMNS = ("adj_close",)

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
    columns = BAR_COLUMNS + tuple(name for name in OPTIONAL_COLUMNS if name in frame.columns)
    bars = pd.DataFrame({"timestamp": _utc_timestamps(frame["timestamp"], fail)})
    for name in columns[1:]:
        bars[name] = _numbers(frame[name], name, fail)

    for name in (*PRICE_COLUMNS, "volume"):
        bad = ~np.isfinite(bars[name])
        if bad.any():
            label = bars.index[bad.argmax()]
            value = "missing (NaN)" if np.isnan(bars.at[label, name]) else "infinite"
            raise fail(label, f"{name} is {value}")
    for name in (*PRICE_COLUMNS, *OPTIONAL_COLUMNS):
        bad = bars[name] <= 0 if name in bars else None  # NaN adj_close means "not known"
        if bad is not None and bad.any():
            label = bars.index[bad.argmax()]
            raise fail(label, f"{name} is {bars.at[label, name]:g}, prices must be positive")
    bad = bars["volume"] < 0
    if bad.any():
        raise fail(bars.index[bad.argmax()], f"volume is {bars['volume'][bad].iloc[0]:g} (< 0)")

    bars = bars.sort_values("timestamp", kind="stable")
    return _drop_repeated_bars(bars, fail, row_name).reset_index(drop=True)


def _utc_timestamps(column: pd.Series, fail: Fail) -> pd.Series:
    """Timestamps as ``datetime64[ns, UTC]``; naive ones are taken to be UTC already."""
    if pd.api.types.is_datetime64_any_dtype(column):
        stamps = column
    else:
        stamps = pd.to_datetime(column, errors="coerce", utc=True, format="ISO8601")
    bad = stamps.isna()
    if bad.any():
        label = column.index[bad.argmax()]
        raise fail(label, f"timestamp {column[label]!r} is not a date")
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
