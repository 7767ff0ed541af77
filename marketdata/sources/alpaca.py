"""Alpaca market data through ``alpaca-py``: US stocks and crypto, historical bars.

Stock bars need an account's keys in ``APCA_API_KEY_ID`` and ``APCA_API_SECRET_KEY``; they are
read from the environment when a request is made and handed to the client, never printed or
logged. Crypto bars (symbols with a slash, ``BTC/USD``) work without keys. Stock prices are
split-adjusted (``adjustment="split"``), like the other sources; Alpaca has no ``adj_close``.
The client follows Alpaca's ``next_page_token`` itself, so one fetch returns every page.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd

from contract.errors import SourceError
from marketdata.sessions import calendar_for
from marketdata.sources.base import BarSource, RetryConfig, register, vendor_bars

KEY_ID_VARIABLE = "APCA_API_KEY_ID"
SECRET_KEY_VARIABLE = "APCA_API_SECRET_KEY"

TRANSIENT_STATUS = {429, 500, 502, 503, 504}  # rate limit and server trouble: worth a retry

# Alpaca's short field names in a bar -> ours
BAR_FIELDS = {"t": "timestamp", "o": "open", "h": "high", "l": "low", "c": "close", "v": "volume"}


@dataclass(frozen=True)
class AlpacaConfig:
    url_override: str | None = None  # another base URL for the data API (a proxy, a test server)
    feed: str = "iex"  # stock feed: "iex" comes with a free account, "sip" needs a subscription
    retry: RetryConfig = field(default_factory=RetryConfig)  # back-off on 429 and 5xx answers


@register("alpaca")
class AlpacaSource(BarSource):
    config_class = AlpacaConfig
    vendor_loggers = ("alpaca", "urllib3")

    def check_ready(self, symbols: list[str]) -> None:
        if any("/" not in symbol for symbol in symbols):
            _stock_keys()

    def fetch(
        self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        symbol = symbol.upper()
        client, request = (
            self._crypto_request(symbol, timeframe, start, end)
            if "/" in symbol
            else self._stock_request(symbol, timeframe, start, end)
        )
        # alpaca-py retries 429s itself with fixed 3-second sleeps; ours back off exponentially
        # and also cover 5xx answers and dropped connections, so one policy is enough.
        client._retry = 0
        get_bars = client.get_crypto_bars if "/" in symbol else client.get_stock_bars
        raw = self.call(lambda: get_bars(request), f"alpaca {symbol} {timeframe}")
        rows = [{ours: bar[theirs] for theirs, ours in BAR_FIELDS.items()}
                for bar in raw.get(symbol) or []]
        frame = pd.DataFrame(rows, columns=list(BAR_FIELDS.values()))
        return vendor_bars(frame, timeframe, start, end, origin=f"alpaca {symbol}",
                           session_zone="America/New_York", calendar=calendar_for(symbol))

    def _stock_request(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp):
        from alpaca.data.enums import Adjustment, DataFeed
        from alpaca.data.historical import StockHistoricalDataClient
        from alpaca.data.requests import StockBarsRequest

        key_id, secret_key = _stock_keys()
        client = StockHistoricalDataClient(
            key_id, secret_key, raw_data=True, url_override=self.config.url_override
        )
        request = StockBarsRequest(
            symbol_or_symbols=symbol,
            timeframe=_alpaca_timeframe(timeframe),
            start=start.to_pydatetime(),
            end=end.to_pydatetime(),
            adjustment=Adjustment.SPLIT,
            feed=DataFeed(self.config.feed),
        )
        return client, request

    def _crypto_request(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp):
        from alpaca.data.historical import CryptoHistoricalDataClient
        from alpaca.data.requests import CryptoBarsRequest

        # Keys are optional for crypto; with them Alpaca allows more requests per minute.
        client = CryptoHistoricalDataClient(
            os.environ.get(KEY_ID_VARIABLE) or None,
            os.environ.get(SECRET_KEY_VARIABLE) or None,
            raw_data=True,
            url_override=self.config.url_override,
        )
        request = CryptoBarsRequest(
            symbol_or_symbols=symbol,
            timeframe=_alpaca_timeframe(timeframe),
            start=start.to_pydatetime(),
            end=end.to_pydatetime(),
        )
        return client, request

    def is_transient(self, error: BaseException) -> bool:
        import requests
        from alpaca.common.exceptions import APIError

        if isinstance(error, APIError):
            return error.status_code in TRANSIENT_STATUS
        return isinstance(error, (requests.ConnectionError, requests.Timeout))

    def describe(self, error: BaseException) -> str:
        from alpaca.common.exceptions import APIError

        if isinstance(error, APIError):
            hint = " (are the keys right?)" if error.status_code in (401, 403) else ""
            return f"HTTP {error.status_code}: {str(error)[:200]}{hint}"
        return super().describe(error)


def _stock_keys() -> tuple[str, str]:
    """The key pair from the environment, or a SourceError that says which variables to set."""
    key_id, secret_key = os.environ.get(KEY_ID_VARIABLE), os.environ.get(SECRET_KEY_VARIABLE)
    if not key_id or not secret_key:
        raise SourceError(
            f"alpaca: stock bars need an API key; set {KEY_ID_VARIABLE} and "
            f"{SECRET_KEY_VARIABLE} (or use --source yfinance, which needs none)"
        )
    return key_id, secret_key


def _alpaca_timeframe(timeframe: str):
    from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

    amount, unit = {
        "1min": (1, TimeFrameUnit.Minute),
        "5min": (5, TimeFrameUnit.Minute),
        "15min": (15, TimeFrameUnit.Minute),
        "1h": (1, TimeFrameUnit.Hour),
        "1d": (1, TimeFrameUnit.Day),
    }[timeframe]
    return TimeFrame(amount, unit)
