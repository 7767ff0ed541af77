"""The dashboard in Debian's Chromium against the real service: every page, a training run's
live loss curve, a backtest's charts and trades, the attention heat map."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from .conftest import API_KEY

PAGES = ("dashboard", "data", "training", "backtest", "models", "settings")
SHOTS = Path(os.environ.get("TRADECAST_SCREENSHOTS", "")) if os.environ.get(
    "TRADECAST_SCREENSHOTS") else None


@pytest.fixture
def watched(page: Page, server, tmp_path) -> Page:
    """The page, recording console errors and every request that leaves 127.0.0.1."""
    page.set_viewport_size({"width": 1200, "height": 860})
    page.errors, page.outside = [], []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))

    def check(request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("data", "blob") and parts.hostname != "127.0.0.1":
            page.outside.append(request.url)

    page.on("request", check)
    page.shots = SHOTS or tmp_path
    page.shots.mkdir(parents=True, exist_ok=True)
    page.base = f"{server.url}/ui/"
    yield page
    assert page.errors == []
    assert page.outside == []


def open_page(page: Page, name: str) -> None:
    page.goto(f"{page.base}#/{name}")
    expect(page.get_by_test_id(f"page-{name}")).to_be_visible()


def enter_key(page: Page) -> None:
    open_page(page, "settings")
    page.get_by_test_id("api-key").fill(API_KEY)
    page.get_by_role("button", name="use for this session").click()


def test_every_page_loads_offline_without_errors(watched: Page) -> None:
    for name in PAGES:
        open_page(watched, name)
        watched.wait_for_load_state("networkidle")
        if name == "dashboard":  # the live path's paper book: both symbols, an equity curve
            expect(watched.get_by_test_id("signals-table").locator("tbody tr")).to_have_count(2)
            expect(watched.get_by_test_id("equity-chart")).not_to_have_attribute("data-ready", "0")
        if name == "data":
            expect(watched.get_by_test_id("store-table").locator("tbody tr").first).to_be_visible()
            watched.get_by_test_id("store-table").get_by_text("AAPL").first.click()
            expect(watched.get_by_test_id("quality-report")).to_contain_text("AAPL 1d")
        watched.screenshot(path=str(watched.shots / f"{name}.png"))


def test_training_started_from_the_page_shows_its_loss_curve_growing(watched: Page) -> None:
    enter_key(watched)
    open_page(watched, "training")
    watched.get_by_test_id("train-variant").select_option("simplex")
    watched.get_by_test_id("train-profile").select_option("tiny")
    watched.get_by_placeholder("optim.max_epochs=5").fill(
        "optim.max_epochs=4\noptim.steps_per_epoch=25\noptim.patience=10")
    watched.get_by_test_id("start-training").click()
    chart = watched.get_by_test_id("loss-chart")
    seen, deadline = [], time.monotonic() + 240
    while time.monotonic() < deadline:
        points = int(chart.get_attribute("data-points") or 0) if chart.count() else 0
        if not seen or points != seen[-1]:
            seen.append(points)
        if points >= 8:  # train and validation loss of all four epochs
            break
        watched.wait_for_timeout(100)
    assert seen[-1] >= 8, seen
    assert len([p for p in seen if p > 0]) >= 2, f"the curve arrived all at once: {seen}"
    assert seen == sorted(seen)
    expect(watched.get_by_test_id("validation-metrics")).to_contain_text("val_loss")
    expect(watched.get_by_test_id("job")).to_have_attribute("data-state", "succeeded",
                                                            timeout=60_000)
    watched.screenshot(path=str(watched.shots / "training.png"))


def test_backtest_from_the_page_shows_equity_drawdown_and_trades(watched: Page) -> None:
    enter_key(watched)
    open_page(watched, "backtest")
    watched.get_by_test_id("backtest-variant").select_option("hybrid")
    watched.get_by_test_id("start-backtest").click()
    expect(watched.get_by_test_id("metrics-vs-baselines")).to_contain_text("always_up",
                                                                           timeout=120_000)
    for chart in ("backtest-equity", "backtest-drawdown", "backtest-candles"):
        expect(watched.get_by_test_id(chart)).to_have_attribute("data-ready", lambda_positive())
    expect(watched.get_by_test_id("trades-table").locator("tbody tr").first).to_be_visible()
    expect(watched.get_by_test_id("monthly-returns").locator("tbody tr").first).to_be_visible()
    watched.screenshot(path=str(watched.shots / "backtest.png"), full_page=True)


def test_models_page_renders_the_attention_heat_map(watched: Page) -> None:
    open_page(watched, "models")
    expect(watched.get_by_test_id("models-table")).to_contain_text("hybrid")
    watched.get_by_test_id("forecast-symbol").select_option("AAPL")
    watched.get_by_test_id("forecast-at").fill("2016-06-01")
    watched.get_by_test_id("show-forecast").click()
    cells = watched.get_by_test_id("attention-heatmap").locator(".heatcell")
    expect(cells).to_have_count(60)
    levels = [float(cells.nth(i).get_attribute("data-level")) for i in range(60)]
    assert max(levels) == 1.0 and min(levels) >= 0.0
    expect(watched.get_by_test_id("forecast-table").locator("tbody tr")).to_have_count(3)
    watched.screenshot(path=str(watched.shots / "models.png"), full_page=True)


def lambda_positive():
    import re

    return re.compile(r"^[1-9]\d*$")
