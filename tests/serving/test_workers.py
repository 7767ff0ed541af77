"""Several API workers, one live-state writer: concurrent clients' interleaved ingest streams
end in exactly the state and signals that one writer fed the same streams in turn reaches; the
workers share their loads and move a busier one's clients (serving.balance)."""

from __future__ import annotations

import threading

import httpx
import numpy as np
import psutil
import pytest

from contract.home import Home
from features.engine import to_ns
from marketdata.sessions import DEFAULT_CALENDAR, bar_ends
from marketdata.store import BarStore
from serving.balance import AVERAGE, FIELDS, HELD, loads_path
from serving.config import ServingConfig
from serving.examples import bar_json
from serving.forecasting import MIN_BARS, Forecaster
from serving.launch import ServerProcess as Server
from serving.live import LiveBook
from serving.registry import ModelRegistry
from serving.responses import forecast_body

from .helpers import make_home

EXTRA = 6  # bars after the warm-up
SINGLE = ("AAPL", "GOOG", "SPY")  # each streamed by its own client through /ingest
MANY = ("IXIC.M", "SPY.M")  # streamed together by one more client through /ingest_many


def ingest_tick(book: LiveBook, tick: dict[str, dict]) -> list:
    """A tick of bar_json bars into ``book`` as the service applies it: daily bars known at
    their session's close (the API's default timeframe and calendar)."""
    values = [[bar[k] for k in ("open", "high", "low", "close", "volume")] for bar in tick.values()]
    stamps = np.array([to_ns(b["timestamp"]) for b in tick.values()])
    return book.ingest_many(list(tick), stamps, np.array(values),
                            known_at=bar_ends(stamps, "1d", DEFAULT_CALENDAR))


def test_interleaved_clients_on_several_workers_equal_one_writer(
    tmp_path, exported_home: Home, sample_home: Home
) -> None:
    home = make_home(tmp_path / "home", exported_home, sample_home, variants=("hybrid",))
    store = BarStore(home.bars_dir)
    streams = {s: [bar_json(b) for b in store.read(s, "1d").iloc[-(MIN_BARS + EXTRA):]
                   .itertuples()] for s in ("AAPL", "GOOG", "SPY", "IXIC")}
    ticks = [{"IXIC.M": q, "SPY.M": s} for q, s in zip(streams["IXIC"], streams["SPY"],
                                                      strict=True)]
    answers: dict[str, list[dict]] = {}
    server = Server.start(home.root, tmp_path / "server.log", TRADECAST_WORKERS="2",
                          TRADECAST_STATE_DIR=str(tmp_path / "live"),
                          TRADECAST_LIVE_VARIANT="hybrid")
    try:
        tree = psutil.Process(server.process.pid).children(recursive=True)
        api_workers = [p for p in tree if "--service-name tradecast " in " ".join(p.cmdline())]
        assert len(api_workers) == 2

        def feed(name: str, path: str, bodies: list[dict]) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                answers[name] = [client.post(path, json=body).json() for body in bodies]

        clients = [threading.Thread(target=feed, args=(s, "/ingest", [
            {"symbol": s, "bar": bar} for bar in streams[s]])) for s in SINGLE]
        clients.append(threading.Thread(target=feed, args=("many", "/ingest_many", [
            {"bars": tick} for tick in ticks])))
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        signals = httpx.post(f"{server.url}/signals",
                             json={"symbols": [*SINGLE, *MANY]}).json()["signals"]
    finally:
        server.stop()  # SIGTERM: the live-state service snapshots on shutdown

    forecaster = Forecaster(ModelRegistry(home.exported_dir), ServingConfig(live_variant="hybrid"))
    reference = LiveBook(tmp_path / "reference", forecaster)
    for symbol in SINGLE:  # one writer, one stream after the other
        expected = [ingest_tick(reference, {symbol: bar})[0] for bar in streams[symbol]]
        got = answers[symbol]
        assert all("bars" in a for a in got), [a for a in got if "bars" not in a][:2]
        assert [a["bars"] for a in got] == [e.bars for e in expected]
        assert [a["added"] for a in got] == [True] * len(expected)
        for answer, want in zip(got[MIN_BARS - 1:], expected[MIN_BARS - 1:], strict=True):
            assert answer["forecast"]["signal"] == forecast_body(want.forecast)["signal"]
            for a, w in zip(answer["forecast"]["forecasts"],
                            forecast_body(want.forecast)["forecasts"], strict=True):
                assert a == pytest.approx(w, rel=1e-6, abs=1e-9)
    for tick, answer in zip(ticks, answers["many"], strict=True):
        expected = ingest_tick(reference, tick)
        assert {s: r["bars"] for s, r in answer["results"].items()} == {
            r.symbol: r.bars for r in expected}
    for symbol in (*SINGLE, *MANY):
        latest = reference.latest(symbol).forecast
        assert signals[symbol]["signal"] == forecast_body(latest)["signal"]

    served = LiveBook(tmp_path / "live", forecaster)  # the server's state, restored
    assert served.seq == reference.seq == len(SINGLE) * len(streams["AAPL"]) + len(ticks)
    for symbol in (*SINGLE, *MANY):
        np.testing.assert_array_equal(served.engine.window(symbol, 60),
                                      reference.engine.window(symbol, 60))
        ours, theirs = served.symbols[symbol], reference.symbols[symbol]
        assert (ours.last_bar, ours.bars, ours.signal) == (theirs.last_bar, theirs.bars,
                                                           theirs.signal)


def test_the_server_balances_by_the_shared_loads(server) -> None:
    """The two API workers of the real server share one loads file: while one worker looks much
    busier than the other, it asks its clients to reconnect; balanced, none is asked."""
    path = loads_path(server.process.pid)  # the workers' parent: BentoML's supervisor
    loads = np.memmap(path, dtype=np.float64, mode="r+", shape=(2, FIELDS))
    assert loads[:, HELD].tolist() == [0, 0]  # nothing in flight between tests

    def reconnects(n: int) -> int:
        """Requests one at a time, each on a new connection (so each reaches either worker)."""
        answers = []
        for _ in range(n):
            with httpx.Client(base_url=server.url, timeout=30) as fresh:
                answers.append(fresh.post("/models", json={}))
        assert {answer.status_code for answer in answers} == {200}
        return sum(answer.headers.get("connection") == "close" for answer in answers)

    assert reconnects(40) == 0
    loads[0, [HELD, AVERAGE]] += 5  # the first worker now looks busy with 5 requests more
    try:
        closed = reconnects(40)
    finally:
        loads[0, [HELD, AVERAGE]] -= 5
    assert closed > 0  # the first worker's answers (about half of them)
    assert loads[:, HELD].tolist() == [0, 0]
    assert reconnects(40) == 0
