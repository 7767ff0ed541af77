"""The dashboard's JSON API on the real service: reads, validation, the API key, the home
folder as the only reachable place, jobs (error line, cancel) and the missing-build page."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

import serving.dashboard.app as dashboard
from contract.home import Home
from serving.dashboard.jobs import process_alive

from .conftest import API_KEY, LIVE_BARS, LIVE_SYMBOLS

KEYED = {"x-api-key": API_KEY}
HEADER = "Date,Open,High,Low,Close,Volume\n"


def wait_for_job(api: httpx.Client, identifier: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = api.get(f"/jobs/{identifier}").json()
        if job["state"] != "running":
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {identifier} still running: {job['log_tail'][-5:]}")


def test_the_paper_portfolio_follows_the_ingested_bars(api: httpx.Client) -> None:
    book = api.get("/portfolio").json()
    assert book["bars"] == LIVE_BARS * len(LIVE_SYMBOLS)
    assert [s["symbol"] for s in book["signals"]] == sorted(LIVE_SYMBOLS)
    assert all(s["forecast"] is not None for s in book["signals"])  # past the warm-up
    assert book["equity_curve"][-1][1] == pytest.approx(book["equity"], rel=1e-6)
    assert book["pnl_total"] == pytest.approx(book["equity"] - book["initial_equity"])
    assert book["max_drawdown"] <= book["drawdown"] <= 0
    assert len(api.get("/portfolio", params={"max_points": 10}).json()["equity_curve"]) <= 11


def test_reads_list_the_store_runs_and_models(api: httpx.Client, trained_home: Home) -> None:
    stored = {(row["symbol"], row["timeframe"]): row for row in api.get("/store").json()}
    assert stored["AAPL", "1d"]["bars"] > 3000
    report = api.get("/store/1d/AAPL/quality").json()
    assert report["symbol"] == "AAPL" and "text" in report
    runs = api.get("/runs").json()
    hybrid = next(r for r in runs if r["variant"] == "hybrid")
    detail = api.get(f"/runs/hybrid/{hybrid['run']}").json()
    assert {row["model"] for row in detail["folds"]} >= {"hybrid", "always_up"}
    assert len(detail["metrics"]) == sum(1 for _ in (
        trained_home.checkpoints_dir / "hybrid" / hybrid["run"] / "metrics.jsonl").open())
    models = api.get("/models").json()["models"]
    assert [m["variant"] for m in models] == ["hybrid"] and models[0]["weights"] == "trained"
    assert models[0]["untrained"] is False  # the flag /models and the dashboard show


@pytest.mark.parametrize(("path", "field"), [
    ("/store/1d/..%2F..%2Fetc/quality", None),  # decoded: a path no route matches
    ("/store/1d/.passwd/quality", "symbol"),
    ("/runs/hybrid/...", "run"),
    ("/runs/..%2F..%2F..%2Fetc/passwd", None),
    ("/backtests/nope", None),
    ("/backtests/unfinished", None),  # a folder without results yet
    ("/jobs/.x", "job"),
    ("/forecast?symbol=AAPL&at=not-a-day", "at"),
    ("/portfolio?max_points=1", "max_points"),
])
def test_nothing_outside_the_home_is_reachable(api: httpx.Client, trained_home: Home, path: str,
                                               field: str | None) -> None:
    (trained_home.root / "backtests" / "unfinished").mkdir(parents=True, exist_ok=True)
    answer = api.get(path)
    assert answer.status_code == (422 if field else 404), answer.text
    assert answer.json()["field" if field else "error"] == (field or answer.json()["error"])


def test_changes_need_the_api_key(api: httpx.Client) -> None:
    for key in (None, "wrong"):
        headers = {"x-api-key": key} if key else {}
        answer = api.post("/jobs/export", json={"variant": "hybrid"}, headers=headers)
        assert answer.status_code == 401
        assert "key" in answer.json()["error"]
    assert api.post("/models/reload", headers=KEYED).status_code == 200


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/jobs/train", {"variant": "huge"}, "variant"),
    ("/jobs/train", {"variant": "simplex", "profile": "nope"}, "profile"),
    ("/jobs/train", {"variant": "simplex", "overrides": ["--home=/"]}, "overrides.0"),
    ("/jobs/fetch", {"source": "yfinance", "symbols": "--x", "start": "2020-01-01"}, "symbols"),
    ("/jobs/backtest", {}, "variant"),
    ("/jobs/backtest", {"signals": "../../etc/passwd"}, "signals"),
    ("/jobs/backtest", {"variant": "hybrid", "costs": {"slippage_bps": -1}},
     "costs.slippage_bps"),
    ("/settings", {"rule": {"min_hold": -3}}, "rule.min_hold"),
])
def test_bad_job_requests_get_a_4xx_naming_the_field(api: httpx.Client, path: str, body: dict,
                                                     field: str) -> None:
    answer = api.post(path, json=body, headers=KEYED)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field


def test_a_failing_job_shows_its_error_line(api: httpx.Client) -> None:
    csv = HEADER + "2020-01-02,1,2,0.5,1.5,100\n2020-01-03,1,2,0.5,-1,100\n"
    started = api.post("/jobs/import", json={"symbol": "BAD", "content": csv}, headers=KEYED)
    assert started.status_code == 200, started.text
    job = wait_for_job(api, started.json()["id"])
    assert job["state"] == "failed"
    assert job["error"].startswith("error:") and "line" in job["error"]
    assert "BAD" not in {row["symbol"] for row in api.get("/store").json()}


def test_a_good_import_lands_in_the_store(api: httpx.Client) -> None:
    csv = HEADER + "2020-01-02,1,2,0.5,1.5,100\n2020-01-03,1,2,0.5,1.7,100\n"
    started = api.post("/jobs/import", json={"symbol": "okcsv", "content": csv}, headers=KEYED)
    assert wait_for_job(api, started.json()["id"])["state"] == "succeeded"
    assert {"symbol": "OKCSV", "bars": 2}.items() <= next(
        row for row in api.get("/store").json() if row["symbol"] == "OKCSV").items()


def test_a_running_job_can_be_cancelled(api: httpx.Client) -> None:
    started = api.post("/jobs/train", json={"variant": "simplex", "profile": "quick"},
                       headers=KEYED).json()
    assert started["state"] == "running"
    assert api.post(f"/jobs/{started['id']}/cancel", headers=KEYED).json()["state"] == "cancelled"
    deadline = time.monotonic() + 30
    while process_alive(started["pid"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not process_alive(started["pid"])
    assert api.get(f"/jobs/{started['id']}").json()["state"] == "cancelled"


def test_settings_are_kept_and_change_the_paper_costs(api: httpx.Client) -> None:
    before = api.get("/portfolio").json()
    chosen = {"rule": {"no_trade_band": 0.2, "min_hold": 5},
              "costs": {"slippage_bps": 50.0, "commission": 0.002},
              "limits": {"max_position": 1.0, "max_gross": 1.0, "daily_loss_stop": 0.05}}
    assert api.post("/settings", json=chosen, headers=KEYED).status_code == 200
    assert api.get("/settings").json() == chosen
    after = api.get("/portfolio").json()
    assert after["cost_per_unit"] == pytest.approx(0.007)
    if before["costs_total"] > 0:  # the same trades, re-marked with dearer costs
        assert after["costs_total"] > before["costs_total"]
    api.post("/settings", json={}, headers=KEYED)  # back to the defaults


def test_a_missing_build_gives_a_page_saying_how_to_build_it(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(dashboard, "DIST_DIR", tmp_path / "dist")

    async def get(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=dashboard.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    page = asyncio.run(get("/"))
    assert page.status_code == 200
    assert "npm run build" in page.text and "not built" in page.text
    assert asyncio.run(get("/api/nothing")).status_code == 404
