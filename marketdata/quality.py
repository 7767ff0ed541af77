"""Data quality check: what is wrong or suspicious in a series of bars, as data and as text.

It looks at raw frames (the checks must see what validation would refuse) and reports:

- ``gap``: sessions (or bars within sessions) the trading calendar expects but the data lacks;
  stocks use an ``exchange_calendars`` calendar (XNYS by default), crypto trades around the clock;
- ``off_calendar``: bars at times the exchange was closed (the 1-minute sample's 16:00 prints);
- ``duplicate``, ``nan``, ``non_positive``, ``unsorted``: bars that cannot be used as they are;
- ``ohlc``: high below low, or open or close outside [low, high];
- ``zero_volume``: runs of bars without volume (or no volume at all, as for an index);
- ``split_jump``: a close-to-close move near a common split ratio (2:1, 3:1, 1:10...), the
  mark of prices that were not split-adjusted.

Errors make a series unusable; warnings deserve a look; notes are facts about the series.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from contract.errors import UnknownSymbolError
from marketdata.bars import PRICE_COLUMNS, TIMEFRAMES
from marketdata.sessions import ALWAYS_OPEN, CALENDAR_START_YEAR, calendar_for, exchange_calendar
from marketdata.store import BarStore

ERROR, WARNING, NOTE = "error", "warning", "note"

# 3:2 splits are left out: a 50% day is rare for a stock but common for VIX.
SPLIT_RATIOS = (2.0, 3.0, 4.0, 5.0, 7.0, 8.0, 10.0, 15.0, 20.0)


@dataclass(frozen=True)
class QualityConfig:
    calendar: str = "XNYS"  # exchange_calendars name for the expected sessions, or "24/7"
    zero_volume_run: int = 3  # report this many or more zero-volume bars in a row
    split_tolerance: float = 0.04  # a jump within 4% of a split ratio looks like a split
    min_split_jump: float = 1.9  # smaller moves are never called split-like
    examples: int = 5  # issues of one kind listed in the text report


@dataclass(frozen=True)
class Issue:
    kind: str  # "gap", "duplicate", "nan", ... (see the module docstring)
    severity: str  # "error", "warning" or "note"
    timestamp: pd.Timestamp | None  # where it starts; None for the series as a whole
    detail: str  # one line for people


@dataclass(frozen=True)
class QualityReport:
    symbol: str  # what was checked
    timeframe: str  # its bar length
    calendar: str  # the calendar gaps were measured against
    bars: int  # rows in the series
    first: pd.Timestamp | None  # first timestamp (None when there are no bars)
    last: pd.Timestamp | None  # last timestamp
    issues: tuple[Issue, ...] = field(default=())  # everything found, in check order

    @property
    def ok(self) -> bool:
        """No errors (warnings and notes allowed)."""
        return not any(issue.severity == ERROR for issue in self.issues)

    def counts(self) -> dict[str, int]:
        """How many issues of each kind."""
        counts: dict[str, int] = {}
        for issue in self.issues:
            counts[issue.kind] = counts.get(issue.kind, 0) + 1
        return counts

    def text(self, examples: int = 5) -> str:
        """A readable report: a header line, then one line per issue kind with examples."""
        span = f"{_day(self.first)} .. {_day(self.last)}" if self.bars else "no bars"
        verdict = "ok" if self.ok else "NOT USABLE"
        lines = [f"{self.symbol} {self.timeframe}: {self.bars} bars, {span}, "
                 f"calendar {self.calendar}: {verdict}"]
        for kind, count in self.counts().items():
            found = [issue for issue in self.issues if issue.kind == kind]
            lines.append(f"  {found[0].severity:<7} {kind:<12} {count:>5}  {found[0].detail}")
            lines.extend(f"{'':29}{issue.detail}" for issue in found[1:examples])
            if count > examples:
                lines.append(f"{'':29}... and {count - examples} more")
        if len(lines) == 1:
            lines.append("  no issues")
        return "\n".join(lines)


def check_bars(
    bars: pd.DataFrame, symbol: str, timeframe: str, config: QualityConfig = QualityConfig()
) -> QualityReport:
    """Check one series of bars (any frame with the bar columns, however broken)."""
    stamps = pd.to_datetime(bars["timestamp"], utc=True)
    issues: list[Issue] = []
    issues += _unusable_rows(bars, stamps)
    ordered = bars.assign(timestamp=stamps).sort_values("timestamp", kind="stable")
    ordered = ordered.drop_duplicates("timestamp")
    issues += _gaps(ordered["timestamp"], timeframe, config.calendar)
    clean = ordered.dropna(subset=[*PRICE_COLUMNS, "volume"])  # NaN rows are reported above
    issues += _ohlc(clean)
    issues += _zero_volume(clean, config.zero_volume_run)
    issues += _split_jumps(clean, config)
    return QualityReport(
        symbol=symbol,
        timeframe=timeframe,
        calendar=config.calendar,
        bars=len(bars),
        first=stamps.min() if len(bars) else None,
        last=stamps.max() if len(bars) else None,
        issues=tuple(issues),
    )


def check_store(
    store: BarStore, symbols: list[str] | None = None, timeframe: str | None = None
) -> list[QualityReport]:
    """Check stored series: the given symbols (all stored ones if None) at one or all timeframes.

    Pairs (``BTC/USDT``) are checked against the 24/7 calendar, everything else against XNYS.
    """
    timeframes = [timeframe] if timeframe else store.timeframes()
    wanted = [symbol.upper() for symbol in symbols] if symbols else None
    reports = []
    for frame_length in timeframes:
        stored = store.symbols(frame_length)
        for symbol in stored if wanted is None else [s for s in wanted if s in stored]:
            calendar = calendar_for(symbol)
            bars = store.read(symbol, frame_length)
            reports.append(check_bars(bars, symbol, frame_length, QualityConfig(calendar=calendar)))
    missing = sorted(set(wanted or []) - {report.symbol for report in reports})
    if missing:
        where = f"{timeframe} bars" if timeframe else "bars"
        raise UnknownSymbolError(f"no {where} stored for {', '.join(missing)} in {store.root}")
    return reports


def _unusable_rows(bars: pd.DataFrame, stamps: pd.Series) -> list[Issue]:
    issues = []
    if not stamps.is_monotonic_increasing:
        row = int(np.argmax(stamps.diff().to_numpy() < pd.Timedelta(0)))
        issues.append(Issue("unsorted", ERROR, stamps.iloc[row],
                            f"row {row} ({stamps.iloc[row]}) comes before the row above it"))
    repeated = bars.assign(timestamp=stamps)[stamps.duplicated(keep=False)]
    for stamp, group in repeated.groupby("timestamp"):
        same = len(group.drop_duplicates()) == 1
        values = "identical" if same else "different values"
        issues.append(Issue("duplicate", WARNING if same else ERROR, stamp,
                            f"{stamp}: {len(group)} bars, {values}"))
    for name in (*PRICE_COLUMNS, "volume"):
        for row in np.flatnonzero(bars[name].isna().to_numpy()):
            stamp = stamps.iloc[row]
            issues.append(Issue("nan", ERROR, stamp, f"{stamp}: {name} is NaN"))
    for name in PRICE_COLUMNS:
        for row in np.flatnonzero((bars[name] <= 0).to_numpy()):
            value = bars[name].iloc[row]
            issues.append(Issue("non_positive", ERROR, stamps.iloc[row],
                                f"{stamps.iloc[row]}: {name} is {value:g}"))
    return issues


def _gaps(stamps: pd.Series, timeframe: str, calendar_name: str) -> list[Issue]:
    if stamps.empty:
        return []
    expected = _expected_times(stamps.iloc[0], stamps.iloc[-1], timeframe, calendar_name)
    present = pd.DatetimeIndex(stamps)
    issues = []
    missing = expected.difference(present)
    if len(missing):
        # Consecutive missing bars make one gap: number them by position in the expected list.
        position = expected.get_indexer(missing)
        for run in np.split(np.arange(len(missing)), np.flatnonzero(np.diff(position) > 1) + 1):
            start, end = missing[run[0]], missing[run[-1]]
            unit = "session" if timeframe == "1d" else "bar"
            span = _day(start) if timeframe == "1d" else str(start)
            if len(run) > 1:
                span += f" .. {_day(end) if timeframe == '1d' else end}"
            issues.append(Issue("gap", WARNING, start, f"{len(run)} {unit}(s) missing: {span}"))
    for stamp in present.difference(expected):
        issues.append(Issue("off_calendar", WARNING, stamp,
                            f"{stamp}: a bar when {calendar_name} was closed"))
    return issues


def _expected_times(
    first: pd.Timestamp, last: pd.Timestamp, timeframe: str, calendar_name: str
) -> pd.DatetimeIndex:
    """Every bar time the calendar expects between ``first`` and ``last`` (inclusive)."""
    step = TIMEFRAMES[timeframe]
    if calendar_name == ALWAYS_OPEN:
        return pd.date_range(first, last, freq=step)
    calendar = exchange_calendar(calendar_name, min(first.year, CALENDAR_START_YEAR))
    if timeframe == "1d":
        sessions = calendar.sessions_in_range(first.tz_localize(None), last.tz_localize(None))
        return sessions.tz_localize("UTC")
    minutes = calendar.minutes_in_range(first, last)
    return minutes[(minutes - minutes.normalize()) % step == pd.Timedelta(0)]


def _ohlc(bars: pd.DataFrame) -> list[Issue]:
    low, high = bars["low"], bars["high"]
    checks = {
        "high below low": high < low,
        "close outside [low, high]": (bars["close"] < low) | (bars["close"] > high),
        "open outside [low, high]": (bars["open"] < low) | (bars["open"] > high),
    }
    return [
        Issue("ohlc", WARNING, stamp, f"{stamp}: {problem}")
        for problem, bad in checks.items()
        for stamp in bars["timestamp"][bad]
    ]


def _zero_volume(bars: pd.DataFrame, min_run: int) -> list[Issue]:
    zero = (bars["volume"] == 0).to_numpy()
    if len(zero) and zero.all():
        return [Issue("zero_volume", NOTE, None, "volume is 0 on every bar (an index, or no data)")]
    issues = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], zero.astype(int), [0]])))
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start >= min_run:
            stamp = bars["timestamp"].iloc[start]
            issues.append(Issue("zero_volume", WARNING, stamp,
                                f"{end - start} bars without volume from {stamp}"))
    return issues


def _split_jumps(bars: pd.DataFrame, config: QualityConfig) -> list[Issue]:
    close = bars["close"].to_numpy()
    ratio = close[1:] / close[:-1]
    size = np.maximum(ratio, 1 / ratio)  # a 1:2 reverse split and a 2:1 split look alike
    issues = []
    for row in np.flatnonzero(size >= config.min_split_jump):
        nearest = min(SPLIT_RATIOS, key=lambda split: abs(size[row] / split - 1))
        if abs(size[row] / nearest - 1) <= config.split_tolerance:
            stamp = bars["timestamp"].iloc[row + 1]
            kind = f"{nearest:g}:1 split" if ratio[row] < 1 else f"1:{nearest:g} reverse split"
            issues.append(Issue("split_jump", WARNING, stamp,
                                f"{stamp}: close x{ratio[row]:.3f} overnight, like an unadjusted "
                                f"{kind}"))
    return issues


def _day(stamp: pd.Timestamp | None) -> str:
    if stamp is None:
        return "-"
    return str(stamp.date()) if stamp == stamp.normalize() else str(stamp)
