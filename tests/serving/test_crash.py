"""SIGKILL the real server in the middle of a stream of ingests: nothing answered is lost."""

from __future__ import annotations

import httpx
import pytest

from features.home import Home
from serving.examples import bar_json
from serving.launch import ServerProcess as Server
from serving.live import LiveBook
from serving.pipeline import MIN_BARS, Forecaster, ServingConfig
from serving.registry import ModelRegistry

from .helpers import make_home

EXTRA = 12  # bars after the warm-up


def test_sigkill_mid_stream_then_restart_equals_an_uninterrupted_run(
    tmp_path, exported_home: Home, sample_home: Home, aapl
) -> None:
    home = make_home(tmp_path / "home", exported_home, sample_home, variants=("hybrid",))
    stream = [bar_json(bar) for bar in aapl.iloc[-(MIN_BARS + EXTRA):].itertuples()]
    env = {"TRADECAST_SNAPSHOT_EVERY": "40", "TRADECAST_LIVE_VARIANT": "hybrid"}
    log = tmp_path / "server.log"

    def send(server: Server, bars: list[dict]) -> list[dict]:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            answers = [client.post("/ingest", json={"symbol": "AAPL", "bar": b}) for b in bars]
        assert all(a.status_code == 200 for a in answers), answers[-1].text
        return [a.json() for a in answers]

    cut = MIN_BARS + 5  # past a snapshot (every 40) and into the journal after it
    first = Server.start(home.root, log, **env)
    try:
        send(first, stream[:cut])
    finally:
        first.kill()
    second = Server.start(home.root, log, **env)
    try:
        resent = send(second, stream[cut - 1 : cut])  # a feed resends the bar it is unsure of
        assert resent[0]["added"] is False and resent[0]["bars"] == cut
        final = send(second, stream[cut:])[-1]
        with httpx.Client(base_url=second.url) as client:
            signals = client.post("/signals", json={"symbols": ["AAPL"]}).json()["signals"]
    finally:
        second.stop()

    reference = LiveBook(
        tmp_path / "reference",
        Forecaster(ModelRegistry(home.exported_dir), ServingConfig(live_variant="hybrid")),
    )
    for bar in stream:
        expected = reference.ingest("AAPL", bar)
    assert final["bars"] == expected.bars == len(stream)
    assert final["forecast"]["signal"] == expected.forecast["signal"]
    assert signals["AAPL"]["signal"] == expected.forecast["signal"]
    for got, want in zip(final["forecast"]["forecasts"], expected.forecast["forecasts"],
                         strict=True):
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9)
