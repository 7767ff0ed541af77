"""SIGKILL the real server in the middle of a stream of ingests: nothing answered is lost, for
single bars (/ingest) and for whole ticks (/ingest_many, one fsync per request)."""

from __future__ import annotations

import httpx
import pytest

from contract.home import Home
from marketdata.store import BarStore
from serving.config import ServingConfig
from serving.examples import bar_json
from serving.forecasting import MIN_BARS, Forecaster
from serving.launch import ServerProcess as Server
from serving.live import LiveBook
from serving.registry import ModelRegistry
from serving.responses import forecast_body

from .helpers import make_home
from .test_workers import ingest_tick

EXTRA = 12  # bars after the warm-up
TICK = ("GOOG", "SPY")  # sent together through /ingest_many, one tick after AAPL's bar


def test_sigkill_mid_stream_then_restart_equals_an_uninterrupted_run(
    tmp_path, exported_home: Home, sample_home: Home
) -> None:
    home = make_home(tmp_path / "home", exported_home, sample_home, variants=("hybrid",))
    store = BarStore(home.bars_dir)
    bars = {s: [bar_json(b) for b in store.read(s, "1d").iloc[-(MIN_BARS + EXTRA):].itertuples()]
            for s in ("AAPL", *TICK)}
    stream = [({"symbol": "AAPL", "bar": bar}, {"bars": {s: bars[s][i] for s in TICK}})
              for i, bar in enumerate(bars["AAPL"])]
    env = {"TRADECAST_SNAPSHOT_EVERY": "40", "TRADECAST_LIVE_VARIANT": "hybrid"}
    log = tmp_path / "server.log"

    def send(server: Server, steps: list[tuple[dict, dict]]) -> list[tuple[dict, dict]]:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            answers = [(client.post("/ingest", json=one), client.post("/ingest_many", json=many))
                       for one, many in steps]
        assert all(a.status_code == b.status_code == 200 for a, b in answers), answers[-1]
        return [(a.json(), b.json()) for a, b in answers]

    cut = MIN_BARS + 5  # past a snapshot (every 40 lines) and into the journal after it
    first = Server.start(home.root, log, **env)
    try:
        send(first, stream[:cut])
    finally:
        first.kill()
    second = Server.start(home.root, log, **env)
    try:
        # a feed resends what it is unsure of: nothing changes
        (one, many), = send(second, stream[cut - 1 : cut])
        assert one["added"] is False and one["bars"] == cut
        assert [(r["added"], r["bars"]) for r in many["results"].values()] == [(False, cut)] * 2
        final, final_many = send(second, stream[cut:])[-1]
        with httpx.Client(base_url=second.url) as client:
            signals = client.post("/signals", json={"symbols": ["AAPL", *TICK]}).json()["signals"]
    finally:
        second.stop()

    reference = LiveBook(
        tmp_path / "reference",
        Forecaster(ModelRegistry(home.exported_dir), ServingConfig(live_variant="hybrid")),
    )
    for one, many in stream:
        expected, = ingest_tick(reference, {"AAPL": one["bar"]})
        expected_many = ingest_tick(reference, many["bars"])
    assert final["bars"] == expected.bars == len(stream)
    assert final["forecast"]["signal"] == forecast_body(expected.forecast)["signal"]
    assert signals["AAPL"]["signal"] == forecast_body(expected.forecast)["signal"]
    for got, want in zip(final["forecast"]["forecasts"],
                         forecast_body(expected.forecast)["forecasts"], strict=True):
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9)
    for want in expected_many:
        got = final_many["results"][want.symbol]
        assert got["bars"] == want.bars == len(stream)
        assert got["forecast"]["signal"] == forecast_body(want.forecast)["signal"]
        assert signals[want.symbol]["signal"] == forecast_body(want.forecast)["signal"]
        for a, w in zip(got["forecast"]["forecasts"], forecast_body(want.forecast)["forecasts"],
                        strict=True):
            assert a == pytest.approx(w, rel=1e-6, abs=1e-9)
