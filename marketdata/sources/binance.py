"""Binance spot klines through ``ccxt`` (public market data, no key needed).

Binance returns at most 1,000 klines per request, so :meth:`BinanceSource.fetch` pages: each
request starts one bar after the last one received, until the range is covered or a page comes
back short. Kline times are UTC and crypto trades around the clock, so daily bars already sit
at 00:00 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pandas as pd

from marketdata.bars import TIMEFRAMES, check_timeframe
from marketdata.sessions import ALWAYS_OPEN
from marketdata.sources.base import BarSource, RetryConfig, register, vendor_bars

TIMEFRAMES_CCXT = {"1min": "1m", "5min": "5m", "15min": "15m", "1h": "1h", "1d": "1d"}
KLINE_FIELDS = ["timestamp", "open", "high", "low", "close", "volume"]  # ccxt's row order


@dataclass(frozen=True)
class BinanceConfig:
    api_url: str | None = None  # replaces the scheme and host of Binance's API URLs (a test server)
    page_limit: int = 1000  # klines per request; 1,000 is Binance's maximum
    retry: RetryConfig = field(default_factory=RetryConfig)  # back-off on 429/418 and time-outs


@register("binance")
class BinanceSource(BarSource):
    config_class = BinanceConfig
    vendor_loggers = ("ccxt", "urllib3")

    def __init__(self, config: BinanceConfig | None = None) -> None:
        super().__init__(config)
        self._exchange = None  # made on first use; it caches Binance's market list

    def exchange(self):
        """The ccxt client, spot markets only, pointed at ``api_url`` when one is set."""
        if self._exchange is None:
            import ccxt

            exchange = ccxt.binance(
                {"options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False,
                             "fetchCurrencies": False}}
            )
            if self.config.api_url:
                exchange.urls["api"] = {
                    name: self.config.api_url.rstrip("/") + urlsplit(url).path
                    for name, url in exchange.urls["api"].items()
                }
            self._exchange = exchange
        return self._exchange

    def fetch(
        self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        check_timeframe(timeframe)
        symbol = symbol.upper()
        what = f"binance {symbol} {timeframe}"
        step_ms = int(TIMEFRAMES[timeframe].total_seconds() * 1000)
        since, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        exchange = self.exchange()
        self.call(exchange.load_markets, f"binance markets for {symbol}")
        rows: list[list[float]] = []
        while since < end_ms:
            page = self.call(
                lambda since=since: exchange.fetch_ohlcv(
                    symbol, TIMEFRAMES_CCXT[timeframe], since=since, limit=self.config.page_limit,
                    params={"until": end_ms - 1},
                ),
                what,
            )
            rows.extend(page)
            if len(page) < self.config.page_limit:
                break
            since = page[-1][0] + step_ms
        frame = pd.DataFrame(rows, columns=KLINE_FIELDS)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
        return vendor_bars(frame, timeframe, start, end, origin=f"binance {symbol}",
                           session_zone="UTC", calendar=ALWAYS_OPEN)

    def is_transient(self, error: BaseException) -> bool:
        import ccxt

        # NetworkError covers time-outs, 5xx answers and DDoSProtection (429 and 418 bans).
        return isinstance(error, ccxt.NetworkError)
