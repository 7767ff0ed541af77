"""The Dashboard page's first render with 20 years of daily bars for the sample universe.

`python -m benchmarks.dashboard --models-home DIR` copies DIR's exported models into a scratch
home, writes a paper portfolio of 20 years of daily bars (5040) for each sample symbol (AAPL,
GOOG, INTC, SPY: random-walk closes, since the sample holds fewer years, with targets from a
20-bar momentum sign), starts the service on 127.0.0.1 and opens /ui/ in Debian's Chromium.
First render is the `chart-ready:equity-chart` performance mark (navigation start to the first
frame after the equity curve was drawn): page load, the portfolio request and the chart. It
also times the portfolio request alone, downsampled (the default 1000 points) and not.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from contract.home import resolve_home
from serving.dashboard.paths import paper_dir
from serving.dashboard.portfolio import OBSERVATIONS_FILE
from serving.launch import ServerProcess

SYMBOLS = ("AAPL", "GOOG", "INTC", "SPY")
YEARS = 20
BARS_PER_YEAR = 252
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def write_observations(folder: Path, seed: int = 7) -> int:
    """20 years of daily observations per symbol, in time order across symbols."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2005-01-03", periods=YEARS * BARS_PER_YEAR, tz="UTC")
    folder.mkdir(parents=True, exist_ok=True)
    closes = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, (len(days), len(SYMBOLS))), 0))
    momentum = np.sign(closes / np.roll(closes, 20, axis=0) - 1)
    momentum[:20] = 0
    with (folder / OBSERVATIONS_FILE).open("w") as out:
        for t, day in enumerate(days):
            for s, symbol in enumerate(SYMBOLS):
                out.write(json.dumps({"symbol": symbol, "timestamp": day.isoformat(),
                                      "close": float(closes[t, s]),
                                      "target": float(momentum[t, s]), "forecast": None}) + "\n")
    return len(days) * len(SYMBOLS)


def time_request(url: str, repeats: int) -> tuple[float, float, int]:
    """Milliseconds of the first request (the summary computed), then the median (cached)."""
    samples, size = [], 0
    with httpx.Client(timeout=60) as client:
        started = time.perf_counter()
        client.get(url)
        cold = (time.perf_counter() - started) * 1e3
        for _ in range(repeats):
            started = time.perf_counter()
            size = len(client.get(url).content)
            samples.append(time.perf_counter() - started)
    return cold, statistics.median(samples) * 1e3, size


def first_renders(url: str, loads: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    marks = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=CHROMIUM_ARGS)
        for _ in range(loads + 1):  # the first load warms the server and the browser
            page = browser.new_page(viewport={"width": 1200, "height": 860})
            page.goto(f"{url}/ui/#/dashboard")
            page.wait_for_function(
                "performance.getEntriesByName('chart-ready:equity-chart').length > 0",
                timeout=30_000)
            marks.append(page.evaluate(
                "performance.getEntriesByName('chart-ready:equity-chart')[0].startTime"))
            page.close()
        browser.close()
    return marks[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models-home", type=Path, required=True,
                        help="a home with exported_models/ (e.g. after `tradecast demo`)")
    parser.add_argument("--loads", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = resolve_home(scratch)
        shutil.copytree(arguments.models_home / "exported_models", home.exported_dir)
        count = write_observations(paper_dir(home))
        server = ServerProcess.start(home.root, home.root / "serve.log")
        try:
            api = f"{server.url}/ui/api/portfolio"
            cold_ms, short_ms, short_bytes = time_request(api, 10)
            _, full_ms, full_bytes = time_request(f"{api}?max_points=20000", 10)
            renders = first_renders(server.url, arguments.loads)
        finally:
            server.stop()
    render = statistics.median(renders)
    print(f"paper portfolio: {count} observations ({len(SYMBOLS)} symbols x {YEARS} years)")
    print(f"GET /ui/api/portfolio, 1000 points: first {cold_ms:.0f} ms (computed), then "
          f"{short_ms:.0f} ms (cached), {short_bytes / 1e3:.0f} kB")
    print(f"GET /ui/api/portfolio, every point: {full_ms:.0f} ms, {full_bytes / 1e3:.0f} kB "
          f"({full_bytes / short_bytes:.1f}x the bytes)")
    print(f"Dashboard first render (median of {len(renders)}): {render:.0f} ms "
          f"= {render / 1000:.2f} x the 1 s target; loads: {[round(r) for r in renders]}")


if __name__ == "__main__":
    main()
