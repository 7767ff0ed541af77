"""A vendor that cannot be reached is named as such, in one line, without the client's chatter.

Real failures, no mocks: a port on 127.0.0.1 that nothing listens on (the kernel refuses the
connection) and a host under ``.invalid`` (RFC 6761: never resolves). The real clients
(yfinance through a requests session, ccxt for Binance, alpaca-py) make the requests.
"""

from __future__ import annotations

import socket

import pandas as pd
import pytest
import requests

from contract.errors import SourceError
from marketdata.sources import RetryConfig, make_source
from marketdata.sources.alpaca import AlpacaConfig
from marketdata.sources.binance import BinanceConfig
from marketdata.sources.network import DNS, REFUSED, unreachable
from marketdata.sources.yfinance_source import YFinanceConfig
from tests.marketdata.transport import SendTo

WEEK = (pd.Timestamp("2018-01-08", tz="UTC"), pd.Timestamp("2018-01-13", tz="UTC"))
# Enough tries that a retried refusal would show as several attempts (it must not be retried).
RETRY = RetryConfig(attempts=4, first_wait_s=0.001, max_wait_s=0.01)
UNRESOLVABLE = "http://tradecast-no-such-vendor.invalid"


@pytest.fixture
def refusing_url() -> str:
    """A 127.0.0.1 URL whose port was just free: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def yfinance_to(base_url: str, tmp_path):
    import yfinance as yf
    from yfinance.data import YfData

    yf.set_tz_cache_location(str(tmp_path / "yfinance_cache"))
    YfData.cache_get.cache_clear()
    session = requests.Session()
    session.mount("https://", SendTo(base_url))
    session.mount("http://", SendTo(base_url))
    return make_source("yfinance", YFinanceConfig(session=session, retry=RETRY))


def sources_to(base_url: str, tmp_path, monkeypatch) -> dict[str, tuple[object, str]]:
    monkeypatch.setenv("APCA_API_KEY_ID", "PKTESTKEYID0000")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "TestSecretNeverShown0000")
    return {
        "yfinance": (yfinance_to(base_url, tmp_path), "AAPL"),
        "binance": (make_source("binance", BinanceConfig(api_url=base_url, retry=RETRY)),
                    "BTC/USDT"),
        "alpaca": (make_source("alpaca", AlpacaConfig(url_override=base_url, retry=RETRY)),
                   "AAPL"),
    }


@pytest.mark.parametrize("vendor", ["yfinance", "binance", "alpaca"])
@pytest.mark.parametrize("failure", ["refused", "unresolvable"])
def test_an_unreachable_vendor_is_named_in_one_line(vendor, failure, refusing_url, tmp_path,
                                                   monkeypatch, capfd):
    url, named = {"refused": (refusing_url, f"{REFUSED} for 127.0.0.1:"),
                  "unresolvable": (UNRESOLVABLE, f"{DNS} for tradecast-no-such-vendor.invalid")
                  }[failure]
    source, symbol = sources_to(url, tmp_path, monkeypatch)[vendor]
    with pytest.raises(SourceError) as raised:
        source.fetch(symbol, "1d", *WEEK)
    message = str(raised.value)
    assert f"cannot reach {vendor}: {named}" in message, message
    assert "\n" not in message
    out, err = capfd.readouterr()
    # No vendor chatter, and no retry notes: refusals and DNS failures are not retried.
    assert out == "" and err == ""


def test_a_silent_server_is_a_time_out(tmp_path):
    """A listener that never answers: the client's own time-out, named as one."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(requests.Timeout) as raised:
            requests.get(url, timeout=0.2)
    assert unreachable(raised.value).startswith("timed out")


def test_other_failures_are_not_called_unreachable() -> None:
    assert unreachable(ValueError("argument of type 'NoneType' is not iterable")) is None
    # what yfinance logs, offline, before it raises its TypeError
    heard = ["Failed to get ticker 'AAPL' reason: Failed to perform, curl: (6) Could not "
             "resolve host: query2.finance.yahoo.com. See https://curl.se/libcurl/c/"]
    assert unreachable(TypeError("argument of type 'NoneType' is not iterable"), heard) == (
        f"{DNS} for query2.finance.yahoo.com")
