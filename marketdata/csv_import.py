"""Read bars from CSV files as vendors and example repositories write them.

What the importer understands (all seen in ``data/sample/``):

- column names in any case, ``Date``/``Datetime``/``Time`` for the timestamp, ``Adj Close`` for
  ``adj_close``, columns in any order (the 1-minute S&P 500 file has Open, Close, High, Low);
- dates as ``YYYY-MM-DD``, ``M/D/YYYY`` (no zero padding) and ``M/D/YYYY H:MM``, or any ISO 8601
  timestamp; gzip or plain files;
- a date without a time is a daily bar, stamped at the session date 00:00 UTC; a time without a
  zone is the exchange's local time (``timezone``, New York by default) and is converted to UTC;
- a row with no value at all (empty cells or ``.``, the marker FRED-style files such as the VIX
  file put on exchange holidays) is not a bar and is skipped; a row with only some values missing
  is an error;
- a close-only series (a date and one value, like the VIX file): the bar's open, high and low are
  set to the close and its volume to 0, because the vendor published no other value. The quality
  check then sees flat bars, and volume-based features see no volume;
- an open or close a little outside the day's [low, high] (at most ``ohlc_tolerance``, 1% by
  default: an auction print the vendor left out of the range, as in two of Yahoo's SPY days)
  widens the range to include it; anything further off, or a low above the high, is refused;
- every bar gets its ``known_at`` time (:mod:`marketdata.sessions`): the file's ``known_at``
  column if it has one, else from the timeframe (stated, or read off the rows: dates only is
  ``1d``, else the smallest step between bars) and the trading ``calendar``.

Every problem raises :class:`BarDataError` naming the file, the line and what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from contract.errors import BarDataError
from marketdata.bars import TIMEFRAMES, validate_bars
from marketdata.sessions import DEFAULT_CALENDAR, with_known_at

# Lower-cased CSV headers that mean one of our columns.
COLUMN_ALIASES = {
    "date": "timestamp",
    "datetime": "timestamp",
    "time": "timestamp",
    "adj close": "adj_close",
    "adjclose": "adj_close",
}

# Date formats tried in order before falling back to ISO 8601.
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M")

MISSING_MARKERS = ["."]  # besides pandas' defaults (empty, NA, NaN, null, ...)
FIRST_DATA_LINE = 2  # line 1 is the header
OHLC_TOLERANCE = 0.01  # how far outside [low, high] an open or close is taken as a print


def read_bars_csv(path: str | Path, timezone: str = "America/New_York", *,
                  timeframe: str | None = None, calendar: str = DEFAULT_CALENDAR,
                  ohlc_tolerance: float = OHLC_TOLERANCE) -> pd.DataFrame:
    """Read one CSV file of bars and return a validated bar frame (see :mod:`marketdata.bars`)
    with ``known_at`` times.

    ``timezone`` says where naive intraday times were recorded; dates without a time ignore it.
    ``timeframe`` (default: read off the rows) and ``calendar`` (``XNYS``, ``24/7``...) give
    the bars' ends.
    """
    path = Path(path)
    origin = str(path)
    try:
        raw = pd.read_csv(path, dtype=str, skipinitialspace=True, na_values=MISSING_MARKERS)
    except FileNotFoundError:
        raise BarDataError(f"{origin}: no such file") from None
    except pd.errors.EmptyDataError:
        raise BarDataError(f"{origin}: empty file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise BarDataError(f"{origin}: not a readable CSV file ({first_line})") from None
    raw.index = pd.RangeIndex(FIRST_DATA_LINE, FIRST_DATA_LINE + len(raw))

    frame = raw.rename(columns=_column_name)
    if "timestamp" not in frame.columns:
        raise BarDataError(f"{origin}: missing column 'timestamp' (or Date)")
    frame = frame.dropna(how="all", subset=[name for name in frame if name != "timestamp"])
    if frame.empty:
        raise BarDataError(f"{origin}: no bars")
    frame = _fill_close_only(frame)
    frame["timestamp"] = _parse_dates(frame["timestamp"], origin, timezone)
    if "known_at" in frame.columns:
        frame["known_at"] = _parse_dates(frame["known_at"], origin, timezone)
    bars = validate_bars(_widen_to_prints(frame, ohlc_tolerance), origin, row_name="line")
    timeframe = timeframe or infer_timeframe(bars, origin)
    return bars if timeframe is None else with_known_at(bars, timeframe, calendar)


def infer_timeframe(bars: pd.DataFrame, origin: str) -> str | None:
    """The timeframe of a file's bars: ``1d`` for dates only, else the smallest step; None for
    one intraday bar (the store then dates it from the timeframe it is stored under)."""
    stamps = bars["timestamp"]
    if (stamps == stamps.dt.normalize()).all():
        return "1d"
    if len(stamps) < 2:
        return None
    step = stamps.diff().iloc[1:].min()
    for name, length in TIMEFRAMES.items():
        if step == length:
            return name
    raise BarDataError(f"{origin}: cannot tell the bar length (smallest step {step}); "
                       "give the timeframe")


def symbol_from_path(path: str | Path) -> str:
    """The symbol a file name suggests: ``data/aapl.csv.gz`` -> ``AAPL``."""
    return Path(path).name.split(".")[0].upper()


def _column_name(header: str) -> str:
    name = header.strip().lower()
    return COLUMN_ALIASES.get(name, name.replace(" ", "_"))


def _fill_close_only(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a close-only series (date plus one value column) the OHLCV columns it lacks."""
    values = [name for name in frame.columns if name != "timestamp"]
    if len(values) == 1 and values[0] != "close":
        frame = frame.rename(columns={values[0]: "close"})
    elif "close" not in frame.columns or any(n in frame for n in ("open", "high", "low")):
        return frame
    frame = frame.copy()
    for name in ("open", "high", "low"):
        frame[name] = frame["close"]
    frame["volume"] = "0"
    return frame


def _widen_to_prints(frame: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Widen [low, high] to an open or close at most ``tolerance`` outside it (see above)."""
    try:
        prices = frame[["open", "high", "low", "close"]].astype("float64")
    except (KeyError, ValueError):
        return frame  # validation names the missing column or the text that is no number
    inner = prices[["open", "close"]]
    low = np.minimum(prices["low"], inner.min(axis=1))
    high = np.maximum(prices["high"], inner.max(axis=1))
    near = ((prices["low"] <= prices["high"]) & (low >= prices["low"] * (1 - tolerance))
            & (high <= prices["high"] * (1 + tolerance)))
    if not (near & ((low != prices["low"]) | (high != prices["high"]))).any():
        return frame
    return frame.assign(low=prices["low"].where(~near, low), high=prices["high"].where(~near, high),
                        open=prices["open"], close=prices["close"])


def _parse_dates(text: pd.Series, origin: str, timezone: str) -> pd.Series:
    """Parse with the first format that reads every row; report the first row none can read."""
    best: pd.Series | None = None
    for date_format in (*DATE_FORMATS, "ISO8601"):
        stamps = pd.to_datetime(text, format=date_format, errors="coerce")
        if best is None or stamps.isna().sum() < best.isna().sum():
            best = stamps
        if not stamps.isna().any():
            break
    bad = best.isna()
    if bad.any():
        line = text.index[bad.argmax()]
        raise BarDataError(f"{origin}, line {line}: cannot read the date {text[line]!r}")
    if best.dt.tz is not None:
        return best.dt.tz_convert("UTC")
    has_time = (best != best.dt.normalize()).any()
    if not has_time:
        return best.dt.tz_localize("UTC")
    try:
        return best.dt.tz_localize(timezone, ambiguous="raise", nonexistent="raise")
    except (ValueError, KeyError) as error:  # a wall-clock time that DST skips or repeats
        raise BarDataError(f"{origin}: time not valid in {timezone} ({error})") from None
