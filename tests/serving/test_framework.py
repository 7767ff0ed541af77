"""The BentoML settings the service is declared with (serving.config): what each turns off."""

from __future__ import annotations

import pytest
from opentelemetry.util.http import ExcludeList

from serving.config import framework_logging, framework_tracing
from serving.direct import direct_route
from serving.service import DIRECT_ROUTES, TradecastService

URLS = ("http://127.0.0.1:3000/predict", "http://10.0.0.7:8080/ui/api/backtest?x=1",
        "https://signals.example.com/ingest_many")


def test_tracing_leaves_out_every_url_unless_asked_for(monkeypatch) -> None:
    monkeypatch.delenv("TRADECAST_TRACING", raising=False)
    excluded = ExcludeList(framework_tracing()["excluded_urls"])  # as BentoML builds it
    assert all(excluded.url_disabled(url) for url in URLS)
    monkeypatch.setenv("TRADECAST_TRACING", "1")
    assert framework_tracing() == {}  # BentoML's own tracing settings apply


def test_access_log_is_off_unless_asked_for(monkeypatch) -> None:
    monkeypatch.delenv("TRADECAST_ACCESS_LOG", raising=False)
    assert not framework_logging()["access"]["enabled"]
    monkeypatch.setenv("TRADECAST_ACCESS_LOG", "1")
    assert framework_logging()["access"]["enabled"]


def test_direct_routes_take_one_body_and_run_on_the_loop() -> None:
    """Only an async endpoint with one positional request can be answered directly: a plain
    function (predict_many runs in a thread) or one without a body (models) is refused."""
    assert {"predict", "ingest", "signals"} <= set(DIRECT_ROUTES)
    with pytest.raises(ValueError, match="async"):
        direct_route(TradecastService, object(), "predict_many")
    with pytest.raises(ValueError, match="positional"):
        direct_route(TradecastService, object(), "models")
