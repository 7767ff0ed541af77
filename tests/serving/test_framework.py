"""The BentoML settings the service is declared with (serving.config): what each turns off."""

from __future__ import annotations

from opentelemetry.util.http import ExcludeList

from serving.config import framework_logging, framework_tracing

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
