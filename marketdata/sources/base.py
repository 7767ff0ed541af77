"""What every data source shares: the interface, the registry, retries and the bar conversion.

A source turns (symbol, timeframe, start, end) into a bar frame (see :mod:`marketdata.bars`) with
``start <= timestamp < end`` and every bar's ``known_at`` (:mod:`marketdata.sessions`).

Stamp conventions (every vendor stamps a bar at its **open**; tradecast keeps that as
``timestamp`` and adds the end as ``known_at``):

- **Alpaca**: ``t`` is the open in UTC; daily bars are stamped at New York midnight (04:00 or
  05:00 UTC) and moved to their session date; stocks end at the XNYS close, crypto pairs
  (``BTC/USD``) at 24:00 UTC of the date;
- **yfinance**: the index is the open in the exchange's zone; daily bars at local midnight are
  moved to their date and end at the XNYS close (``24/7`` for pairs); intraday at open + length;
- **Binance**: kline open times in UTC ms; daily klines cover 00:00-24:00 UTC (``24/7``);
- **CSV** (:mod:`marketdata.csv_import`): the open, or the session date for daily bars; a
  ``known_at`` column, when present, states the end.

Vendor clients are imported inside the sources' methods, so that importing
:mod:`marketdata.sources` stays cheap and a missing vendor package only hurts its source.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pandas as pd
import tenacity

from contract.errors import SourceError
from marketdata.bars import check_timeframe, empty_bars, validate_bars
from marketdata.sessions import with_known_at
from marketdata.sources.network import DNS, REFUSED, quiet_vendor, unreachable

log = logging.getLogger(__name__)

Result = TypeVar("Result")


@dataclass(frozen=True)
class RetryConfig:
    attempts: int = 6  # tries per request, the first one included
    first_wait_s: float = 1.0  # back-off before the second try; it doubles on every further try
    max_wait_s: float = 60.0  # the longest single back-off


class BarSource(ABC):
    """One vendor. Subclasses set ``config_class`` and implement :meth:`fetch`."""

    name: ClassVar[str]  # set by @register
    config_class: ClassVar[type]  # the frozen dataclass that configures the source
    # Loggers of the vendor client and its transport: kept quiet during a call (their records
    # only help to name an unreachable host).
    vendor_loggers: ClassVar[tuple[str, ...]] = ("urllib3",)

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.config_class()

    @abstractmethod
    def fetch(
        self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        """Bars of ``symbol`` with ``start <= timestamp < end`` (both UTC); may have no rows."""

    def check_ready(self, symbols: list[str]) -> None:  # noqa: B027 (most sources need nothing)
        """Raise :class:`SourceError` now if fetching ``symbols`` cannot work (missing keys)."""

    def call(self, request: Callable[[], Result], what: str) -> Result:
        """Run one vendor request, retrying with exponential back-off on transient failures.

        A host that does not resolve or refuses the connection is not retried (it will not
        answer in a few seconds either); any failure that shows the vendor could not be reached
        (DNS, refused, time-out) says so in one line, whatever the client raised.
        """
        retry = self.config.retry

        def worth_retrying(error: BaseException) -> bool:
            reason = unreachable(error) or ""
            return self.is_transient(error) and not reason.startswith((DNS, REFUSED))

        def before_sleep(state: tenacity.RetryCallState) -> None:
            log.warning(
                "%s: %s; try %d of %d in %.1f s", what, self.describe(state.outcome.exception()),
                state.attempt_number + 1, retry.attempts, state.next_action.sleep,
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(retry.attempts),
            wait=tenacity.wait_exponential(multiplier=retry.first_wait_s, max=retry.max_wait_s),
            retry=tenacity.retry_if_exception(worth_retrying),
            before_sleep=before_sleep,
            reraise=True,
        )
        with quiet_vendor(self.vendor_loggers) as heard:
            try:
                return retrying(request)
            except SourceError:
                raise
            except Exception as error:  # noqa: BLE001 (every vendor failure becomes one line)
                failure = error
        if reason := unreachable(failure, heard):
            raise SourceError(f"{what}: cannot reach {self.name}: {reason} (check the network, "
                              "a proxy or the vendor's status)") from None
        if self.is_transient(failure):
            raise SourceError(
                f"{what}: gave up after {retry.attempts} tries ({self.describe(failure)})"
            ) from None
        raise SourceError(f"{what}: {self.describe(failure)}") from None

    @abstractmethod
    def is_transient(self, error: BaseException) -> bool:
        """Whether ``error`` is worth another try (rate limits, time-outs, 5xx answers)."""

    def describe(self, error: BaseException) -> str:
        """One line about ``error`` for messages; never includes credentials."""
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"{type(error).__name__}: {first_line[:200]}"


SOURCES: dict[str, type[BarSource]] = {}


def register(name: str) -> Callable[[type[BarSource]], type[BarSource]]:
    """Class decorator that makes a source available by ``name``."""

    def add(source: type[BarSource]) -> type[BarSource]:
        source.name = name
        SOURCES[name] = source
        return source

    return add


def make_source(name: str, config: Any = None) -> BarSource:
    """The registered source ``name`` with ``config`` (its default configuration when None)."""
    if name not in SOURCES:
        raise SourceError(f"unknown data source {name!r}; use one of {', '.join(sorted(SOURCES))}")
    return SOURCES[name](config)


def vendor_bars(
    frame: pd.DataFrame,
    timeframe: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    origin: str,
    session_zone: str,
    calendar: str,
) -> pd.DataFrame:
    """Turn a vendor's frame (our column names, tz-aware ``timestamp``) into a bar frame.

    Daily bars are moved to their session date at 00:00 UTC: the date in ``session_zone``, the
    exchange's time zone (vendors stamp a New York session at 04:00, 05:00 or 14:30 UTC). A bar
    whose period has not ended yet (``known_at`` after now, on ``calendar``) is left out: it
    would still change, and the store refuses a stored bar that changes.
    """
    check_timeframe(timeframe)
    if frame.empty:
        return with_known_at(empty_bars(with_adj_close="adj_close" in frame), timeframe, calendar)
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    if timeframe == "1d":
        local_dates = stamps.dt.tz_convert(session_zone).dt.tz_localize(None).dt.normalize()
        stamps = local_dates.dt.tz_localize("UTC")
    bars = with_known_at(validate_bars(frame.assign(timestamp=stamps), origin), timeframe, calendar)
    finished = bars["known_at"] <= pd.Timestamp.now(tz="UTC")
    inside = (bars["timestamp"] >= start) & (bars["timestamp"] < end) & finished
    return bars[inside].reset_index(drop=True)
