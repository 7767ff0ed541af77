"""Serving fixtures: a scratch home with the exported models and the sample bars, and the real
BentoML service started on 127.0.0.1 over it (one server for the session)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pandas as pd
import pytest

from contract.home import Home
from marketdata.store import BarStore
from serving.launch import ServerProcess as Server

from .helpers import API_KEY, make_home


@pytest.fixture(scope="session")
def serving_home(tmp_path_factory, exported_home: Home, sample_home: Home) -> Home:
    # `full` (27M parameters) is left out: loading and reloading it dominates the tests' time;
    # test_predictor covers it, position input included.
    return make_home(tmp_path_factory.mktemp("serving_home"), exported_home, sample_home,
                     variants=("hybrid", "simplex", "ensemble"))


@pytest.fixture(scope="session")
def aapl(sample_home: Home) -> pd.DataFrame:
    return BarStore(sample_home.bars_dir).read("AAPL", "1d")


@pytest.fixture(scope="session")
def server(serving_home: Home, tmp_path_factory) -> Iterator[Server]:
    state = tmp_path_factory.mktemp("server_state")
    started = Server.start(
        serving_home.root, state / "server.log", TRADECAST_API_KEY=API_KEY,
        TRADECAST_STATE_DIR=str(state / "live"), TRADECAST_SNAPSHOT_EVERY="50",
        TRADECAST_LIVE_VARIANT="hybrid", TRADECAST_ACCESS_LOG="1",  # the key must not leak there
        TRADECAST_WORKERS="2",  # several API workers and the live-state process, as deployed
    )
    yield started
    started.stop()


@pytest.fixture(scope="session")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30, headers={"x-api-key": API_KEY}) as http:
        yield http

