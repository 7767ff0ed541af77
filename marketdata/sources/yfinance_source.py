"""Yahoo Finance through ``yfinance``: free, no key, and the source for index tickers.

Yahoo names indices with a caret (``^VIX``, ``^GSPC``); the store keeps tradecast's names
(``VIX``, ``SPX``), so :data:`YAHOO_TICKERS` translates. Bars are fetched with
``auto_adjust=False``: ``Close`` is split-adjusted and ``Adj Close`` (dividends too) is kept as
``adj_close``. The module is not called ``yfinance`` so that it never shadows the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from marketdata.bars import check_timeframe
from marketdata.sessions import calendar_for
from marketdata.sources.base import BarSource, RetryConfig, register, vendor_bars

# tradecast symbol -> Yahoo ticker, where they differ beyond "/" -> "-" (BTC/USD -> BTC-USD)
YAHOO_TICKERS = {"VIX": "^VIX", "SPX": "^GSPC", "IXIC": "^IXIC", "NDX": "^NDX", "DJI": "^DJI"}

INTERVALS = {"1min": "1m", "5min": "5m", "15min": "15m", "1h": "1h", "1d": "1d"}

# Yahoo's column names -> ours
COLUMNS = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Adj Close": "adj_close",
           "Volume": "volume"}


@dataclass(frozen=True)
class YFinanceConfig:
    session: Any = None  # a requests or curl_cffi Session (proxies, tests); None: yfinance its own
    retry: RetryConfig = field(default_factory=RetryConfig)  # back-off on 429s and dropped links


def yahoo_ticker(symbol: str) -> str:
    """Yahoo's ticker for a tradecast symbol; a caret ticker passes through unchanged."""
    symbol = symbol.upper()
    return YAHOO_TICKERS.get(symbol, symbol.replace("/", "-"))


@register("yfinance")
class YFinanceSource(BarSource):
    config_class = YFinanceConfig
    vendor_loggers = ("yfinance", "urllib3")

    def fetch(
        self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        import yfinance as yf
        from yfinance.exceptions import YFPricesMissingError

        check_timeframe(timeframe)
        ticker = yf.Ticker(yahoo_ticker(symbol), session=self.config.session)

        def history() -> pd.DataFrame:
            try:
                return ticker.history(
                    start=start, end=end, interval=INTERVALS[timeframe], auto_adjust=False,
                    actions=False, repair=False, raise_errors=True,
                )
            except YFPricesMissingError:  # Yahoo has no bars in the range: an empty answer
                return pd.DataFrame(columns=list(COLUMNS))

        frame = self.call(history, f"yfinance {yahoo_ticker(symbol)} {timeframe}")
        frame = frame.rename(columns=COLUMNS)[list(COLUMNS.values())]
        frame = frame.rename_axis("timestamp").reset_index()
        zone = frame["timestamp"].dt.tz if len(frame) else "America/New_York"
        return vendor_bars(frame, timeframe, start, end, origin=f"yfinance {symbol}",
                           session_zone=str(zone), calendar=calendar_for(symbol))

    def is_transient(self, error: BaseException) -> bool:
        import requests
        from yfinance.exceptions import YFRateLimitError

        transient = (YFRateLimitError, requests.ConnectionError, requests.Timeout)
        try:
            from curl_cffi.requests.exceptions import RequestException as CurlError
        except ImportError:
            return isinstance(error, transient)
        return isinstance(error, (*transient, CurlError))
