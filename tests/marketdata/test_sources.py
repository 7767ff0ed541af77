"""Every data source against recorded vendor answers, replayed by a local HTTP server.

The real clients (alpaca-py, yfinance, ccxt) make real HTTP requests to 127.0.0.1, where
:class:`ReplayServer` answers from ``tests/fixtures/vendors/<vendor>_<case>.json``: a list of
request patterns (path and query values; a null value means "absent") with the answer to give,
in the vendor's wire format. Each answer is used once unless marked ``repeat``, so a fixture
also says how many requests a case takes (paging, retries).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pandas as pd
import pytest
import requests

from contract.errors import SourceError
from marketdata.bars import BAR_COLUMNS
from marketdata.csv_import import read_bars_csv
from marketdata.sources import RetryConfig, download, make_source
from marketdata.sources.alpaca import AlpacaConfig
from marketdata.sources.binance import BinanceConfig
from marketdata.sources.yfinance_source import YFinanceConfig, yahoo_ticker
from marketdata.store import BarStore
from tests.marketdata.transport import SendTo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"
FAST_RETRY = RetryConfig(attempts=3, first_wait_s=0.001, max_wait_s=0.01)
WEEK = (pd.Timestamp("2018-01-08", tz="UTC"), pd.Timestamp("2018-01-13", tz="UTC"))
FAKE_KEY_ID, FAKE_SECRET = "PKTESTKEYID0000", "TestSecretNeverShown0000"


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class ReplayServer:
    """Answers HTTP GETs from a fixture's recorded exchanges and remembers what it was asked."""

    exchanges: list[dict] = field(default_factory=list)
    used: list[bool] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    unmatched: list[Seen] = field(default_factory=list)

    def load(self, case: str) -> None:
        self.exchanges = json.loads((FIXTURES / f"{case}.json").read_text())["exchanges"]
        self.used = [False] * len(self.exchanges)
        self.seen, self.unmatched = [], []

    def answer(self, request: Seen) -> dict | None:
        self.seen.append(request)
        for number, exchange in enumerate(self.exchanges):
            if self.used[number] and not exchange.get("repeat"):
                continue
            pattern = exchange["request"]
            if pattern["path"] != request.path:
                continue
            wanted = pattern.get("query", {})
            if all(request.query.get(name) == value for name, value in wanted.items()):
                self.used[number] = True
                return exchange["response"]
        self.unmatched.append(request)
        return None

    def requests_to(self, path: str) -> list[Seen]:
        return [request for request in self.seen if request.path == path]

    def assert_all_answered(self) -> None:
        assert not self.unmatched, f"requests with no recorded answer: {self.unmatched}"
        pairs = zip(self.exchanges, self.used, strict=True)
        unused = [exchange["request"] for exchange, used in pairs
                  if not used and not exchange.get("optional")]
        assert not unused, f"recorded answers never asked for: {unused}"


@pytest.fixture(scope="module")
def replay():
    """One replay server for the module on 127.0.0.1; yields (server, base URL)."""
    state = ReplayServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
            response = state.answer(Seen(unquote(parts.path), query, dict(self.headers)))
            response = response or {"status": 404, "json": {"message": "no recorded answer"}}
            body = (json.dumps(response["json"]) if "json" in response else response["text"])
            payload = body.encode()
            self.send_response(response["status"])
            for name, value in response.get("headers", {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:  # keep pytest's output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def aapl_week(sample_dir) -> pd.DataFrame:
    """The real AAPL bars that the Alpaca and Yahoo fixtures carry."""
    bars = read_bars_csv(sample_dir / "aapl.csv.gz")
    inside = (bars["timestamp"] >= WEEK[0]) & (bars["timestamp"] < WEEK[1])
    return bars[inside].reset_index(drop=True)


def assert_bar_frame(bars: pd.DataFrame) -> None:
    assert list(bars.columns[:6]) == list(BAR_COLUMNS)
    assert str(bars["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert bars["timestamp"].is_monotonic_increasing and bars["timestamp"].is_unique


# ------------------------------------------------------------------------------------- Alpaca


@pytest.fixture
def alpaca(replay, monkeypatch):
    """The Alpaca source with (fake) keys in the environment."""
    monkeypatch.setenv("APCA_API_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("APCA_API_SECRET_KEY", FAKE_SECRET)
    server, url = replay
    return server, make_source("alpaca", AlpacaConfig(url_override=url, retry=FAST_RETRY))


@pytest.fixture
def keyless_alpaca(alpaca, monkeypatch):
    """The Alpaca source with no keys in the environment."""
    monkeypatch.delenv("APCA_API_KEY_ID")
    monkeypatch.delenv("APCA_API_SECRET_KEY")
    return alpaca


def test_alpaca_stock_bars_follow_the_page_token(alpaca, aapl_week):
    server, source = alpaca
    server.load("alpaca_stock_pages")
    bars = source.fetch("AAPL", "1d", *WEEK)
    server.assert_all_answered()
    first, second = server.requests_to("/v2/stocks/bars")
    assert "page_token" not in first.query and second.query["page_token"].startswith("QUFQ")
    assert first.headers["APCA-API-KEY-ID"] == FAKE_KEY_ID
    assert_bar_frame(bars)
    # Alpaca stamps the sessions at 05:00 UTC; the store wants the session date at 00:00 UTC.
    pd.testing.assert_series_equal(bars["timestamp"], aapl_week["timestamp"])
    for name in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(bars[name], aapl_week[name])


def test_alpaca_retries_rate_limits_and_server_errors(alpaca, aapl_week):
    server, source = alpaca
    server.load("alpaca_stock_rate_limited_twice")  # 429, then 503, then the bars
    bars = source.fetch("AAPL", "1d", *WEEK)
    server.assert_all_answered()
    assert len(server.requests_to("/v2/stocks/bars")) == 3
    np.testing.assert_array_equal(bars["close"], aapl_week["close"])


def test_alpaca_gives_up_after_the_configured_tries(alpaca):
    server, source = alpaca
    server.load("alpaca_stock_rate_limited_always")
    with pytest.raises(SourceError, match="alpaca AAPL 1d: gave up after 3 tries .*HTTP 429"):
        source.fetch("AAPL", "1d", *WEEK)
    assert len(server.requests_to("/v2/stocks/bars")) == FAST_RETRY.attempts


def test_alpaca_empty_answer_is_an_empty_frame(alpaca):
    server, source = alpaca
    server.load("alpaca_stock_empty")
    bars = source.fetch("AAPL", "1d", *WEEK)
    assert bars.empty and list(bars.columns) == [*BAR_COLUMNS, "known_at"]


def test_alpaca_refused_keys_fail_at_once_without_showing_them(alpaca):
    server, source = alpaca
    server.load("alpaca_stock_forbidden")
    with pytest.raises(SourceError, match="HTTP 403.*are the keys right") as caught:
        source.fetch("AAPL", "1d", *WEEK)
    assert len(server.requests_to("/v2/stocks/bars")) == 1  # a 403 is not retried
    assert FAKE_SECRET not in str(caught.value) and FAKE_KEY_ID not in str(caught.value)


def test_alpaca_without_keys_says_which_variables_to_set(keyless_alpaca):
    server, source = keyless_alpaca
    server.load("alpaca_stock_empty")
    with pytest.raises(SourceError, match="set APCA_API_KEY_ID and APCA_API_SECRET_KEY"):
        source.fetch("AAPL", "1d", *WEEK)
    assert server.seen == []


def test_alpaca_crypto_needs_no_keys_and_keeps_utc_hours(keyless_alpaca):
    server, source = keyless_alpaca
    server.load("alpaca_crypto_hourly")
    start = pd.Timestamp("2024-01-02", tz="UTC")
    bars = source.fetch("btc/usd", "1h", start, start + pd.Timedelta(hours=4))
    server.assert_all_answered()
    assert "APCA-API-KEY-ID" not in server.seen[0].headers
    assert bars["timestamp"].tolist() == list(pd.date_range(start, periods=4, freq="h"))
    assert bars["close"].iloc[0] == 45050.0


# ------------------------------------------------------------------------------------ yfinance


@pytest.fixture
def yahoo(replay, tmp_path_factory):
    import yfinance as yf
    from yfinance.data import YfData

    yf.set_tz_cache_location(str(tmp_path_factory.mktemp("yfinance_cache")))
    YfData.cache_get.cache_clear()  # yfinance keeps answers for past ranges in memory
    server, url = replay
    session = requests.Session()  # yfinance's documented hook for proxies and custom transports
    session.mount("https://", SendTo(url))
    yield server, make_source("yfinance", YFinanceConfig(session=session, retry=FAST_RETRY))
    session.close()


def test_yfinance_daily_bars_keep_adj_close_and_sit_at_midnight_utc(yahoo, aapl_week):
    server, source = yahoo
    server.load("yahoo_aapl_daily")
    bars = source.fetch("AAPL", "1d", *WEEK)
    server.assert_all_answered()
    assert_bar_frame(bars)
    pd.testing.assert_frame_equal(bars, aapl_week, check_exact=True)
    history = [r for r in server.requests_to("/v8/finance/chart/AAPL") if "period1" in r.query]
    assert int(history[0].query["period1"]) == int(WEEK[0].timestamp())


def test_yfinance_index_symbols_use_caret_tickers(yahoo):
    server, source = yahoo
    server.load("yahoo_vix_daily")
    bars = source.fetch("VIX", "1d", *WEEK)
    server.assert_all_answered()
    assert yahoo_ticker("VIX") == "^VIX" and yahoo_ticker("BTC/USD") == "BTC-USD"
    assert len(bars) == 5


def test_yfinance_retries_after_a_rate_limit(yahoo, aapl_week):
    server, source = yahoo
    server.load("yahoo_aapl_rate_limited_once")
    bars = source.fetch("AAPL", "1d", *WEEK)
    server.assert_all_answered()
    history = [r for r in server.requests_to("/v8/finance/chart/AAPL") if "period1" in r.query]
    assert len(history) == 3  # two 429s (yfinance tries a second cookie), then the bars
    np.testing.assert_array_equal(bars["close"], aapl_week["close"])


def test_yfinance_empty_answer_is_an_empty_frame(yahoo):
    server, source = yahoo
    server.load("yahoo_aapl_empty")
    bars = source.fetch("AAPL", "1d", *WEEK)
    assert bars.empty and "close" in bars


# ------------------------------------------------------------------------------------- Binance

HOURS = (pd.Timestamp("2024-01-02", tz="UTC"), pd.Timestamp("2024-01-02 05:00", tz="UTC"))


@pytest.fixture
def binance(replay):
    server, url = replay
    config = BinanceConfig(api_url=url, page_limit=3, retry=FAST_RETRY)
    return server, make_source("binance", config)


def test_binance_pages_until_a_short_page(binance):
    server, source = binance
    server.load("binance_btc_hourly_pages")
    bars = source.fetch("BTC/USDT", "1h", *HOURS)
    server.assert_all_answered()
    first, second = server.requests_to("/api/v3/klines")
    assert first.query["limit"] == "3" and first.query["interval"] == "1h"
    assert int(second.query["startTime"]) == int(first.query["startTime"]) + 3 * 3_600_000
    assert_bar_frame(bars)
    assert bars["timestamp"].tolist() == list(pd.date_range(HOURS[0], periods=5, freq="h"))
    assert bars["open"].iloc[1] == 44037.5


def test_binance_retries_a_rate_limit(binance):
    server, source = binance
    server.load("binance_btc_rate_limited_once")
    bars = source.fetch("BTC/USDT", "1h", *HOURS)
    server.assert_all_answered()
    assert len(server.requests_to("/api/v3/klines")) == 2 and len(bars) == 2


def test_binance_empty_answer_and_unknown_pair(binance):
    server, source = binance
    server.load("binance_btc_empty")
    assert source.fetch("BTC/USDT", "1h", *HOURS).empty
    with pytest.raises(SourceError, match="binance DOGE/EUR 1h: BadSymbol"):
        source.fetch("DOGE/EUR", "1h", *HOURS)


# ------------------------------------------------------------------------------- download


def test_download_appends_only_bars_after_the_last_stored_one(binance, tmp_path):
    server, source = binance
    store = BarStore(tmp_path)
    server.load("binance_btc_hourly_pages")
    added = download(source, ["BTC/USDT"], "1h", start=HOURS[0], end=HOURS[1], store=store)
    assert added == {"BTC/USDT": 5}
    server.load("binance_btc_empty")
    assert download(source, ["BTC/USDT"], "1h", start=HOURS[0],
                    end=HOURS[1] + pd.Timedelta("1h"), store=store) \
        == {"BTC/USDT": 0}
    (asked,) = server.requests_to("/api/v3/klines")
    assert int(asked.query["startTime"]) == int(HOURS[1].timestamp() * 1000)
    assert len(store.read("BTC/USDT", "1h")) == 5


def test_unknown_source_lists_the_known_ones():
    with pytest.raises(SourceError, match="use one of alpaca, binance, yfinance"):
        make_source("quandl")
