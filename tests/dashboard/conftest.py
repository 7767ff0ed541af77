"""Dashboard fixtures: the built app, a home with a trained + exported tiny model and live
bars ingested, the real service on 127.0.0.1 over it, and Debian's Chromium for Playwright."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contract.home import PROJECT_ROOT, Home, resolve_home
from marketdata.store import BarStore
from serving.examples import bar_json
from serving.launch import ServerProcess

API_KEY = "dash-key-81c2"
DASHBOARD_DIR = PROJECT_ROOT / "dashboard"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LIVE_SYMBOLS = ("AAPL", "SPY")
LIVE_BARS = 170  # 120 to warm up, then 50 bars with signals


def npm(*arguments: str) -> None:
    subprocess.run(["npm", *arguments], cwd=DASHBOARD_DIR, check=True, capture_output=True,
                   timeout=600)


@pytest.fixture(scope="session")
def dashboard_build() -> Path:
    """dashboard/dist, built here when `make test` has not built it already."""
    if not (DASHBOARD_DIR / "dist" / "index.html").exists():
        if not (DASHBOARD_DIR / "node_modules").exists():
            npm("ci", "--no-audit", "--no-fund")
        npm("run", "build")
    return DASHBOARD_DIR / "dist"


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory, sample_home: Home) -> Home:
    """The sample bars, `hybrid` trained walk-forward on the tiny profile and exported."""
    from training.export import export_variant, torch_threads
    from training.runs import train_from_cli

    home = resolve_home(tmp_path_factory.mktemp("dashboard_home"))
    shutil.copytree(sample_home.bars_dir, home.bars_dir)
    with torch_threads(1):
        train_from_cli(home, "hybrid", profile="tiny", walk_forward=True)
        export_variant("hybrid", home.checkpoints_dir, home.exported_dir)
    return home


@pytest.fixture(scope="session")
def server(trained_home: Home, dashboard_build: Path, tmp_path_factory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("dashboard_server") / "server.log"
    started = ServerProcess.start(trained_home.root, log, TRADECAST_API_KEY=API_KEY,
                                  TRADECAST_LIVE_VARIANT="hybrid")
    try:
        ingest_live_bars(started.url, trained_home)
        yield started
    finally:
        started.stop()


def ingest_live_bars(url: str, home: Home) -> None:
    """The live path: each symbol's bars of 2014 onwards, one POST /ingest each."""
    store = BarStore(home.bars_dir)
    with httpx.Client(base_url=url, timeout=30, headers={"x-api-key": API_KEY}) as client:
        for symbol in LIVE_SYMBOLS:
            bars = store.read(symbol, "1d")
            bars = bars[bars["timestamp"] >= "2014-01-01"].head(LIVE_BARS)
            for bar in bars.itertuples():
                answer = client.post("/ingest", json={"symbol": symbol, "bar": bar_json(bar)})
                answer.raise_for_status()


@pytest.fixture(scope="session")
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/ui/api", timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """pytest-playwright launches Debian's Chromium (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}
