"""Clients spread over the API workers by load (serving.balance): the shared loads and the
guard's answers (the real two-worker server: tests/serving/test_workers.py)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from serving.balance import HELD, WorkerLoads, forget_stale_loads, loads_path
from serving.http import GuardConfig, RequestGuard


def hold_requests(path: Path, slot: int, count: int) -> None:
    """In another process: a worker that holds ``count`` requests."""
    loads = WorkerLoads(path, slot, workers=2)
    loads.change(+count)


def test_each_worker_sees_the_requests_another_process_holds(tmp_path) -> None:
    path = tmp_path / "loads"
    mine = WorkerLoads(path, slot=0, workers=2)
    child = multiprocessing.get_context("spawn").Process(target=hold_requests,
                                                        args=(path, 1, 3))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    later = time.monotonic() + 10  # long after every change: the averages are the counts
    assert mine.averages(later).round(6).tolist() == [0, 3]
    mine.change(+4)
    assert not mine.overloaded(later)  # 4 against 3
    mine.change(+1)
    assert mine.overloaded(later)  # 5 against 3: beyond the margin of 1.5
    mine.change(-1)
    assert not mine.overloaded(later)


def test_a_moment_of_fewer_requests_is_not_an_imbalance_but_a_lasting_one_is(tmp_path) -> None:
    """A coalesced run answers several clients at once, and its worker holds fewer requests for
    the millisecond until they send again: the average load hardly moves; a lasting gap moves
    it past the margin."""
    path = tmp_path / "loads"
    mine, other = WorkerLoads(path, 0, 2), WorkerLoads(path, 1, 2)
    start = time.monotonic()
    mine.change(+4, now=start)
    other.change(+4, now=start)
    other.change(-3, now=start + 1.0)  # three answered at once
    assert not mine.overloaded(now=start + 1.002)
    other.change(+3, now=start + 1.002)  # and back
    assert not mine.overloaded(now=start + 1.01)
    other.change(-2, now=start + 2.0)  # two clients gone from that worker for good
    assert not mine.overloaded(now=start + 2.01)
    assert mine.overloaded(now=start + 2.5)
    mine.change(-3, now=start + 3.0)  # a lone request never sheds its own connection
    assert not mine.overloaded(now=start + 3.5)


def test_under_heavy_load_the_gap_must_also_be_a_share_of_the_load(tmp_path) -> None:
    """16 requests against 13 is the ordinary coming and going of a worker that answers its
    clients by the batch; 16 against 11 is an imbalance worth moving a client for."""
    path = tmp_path / "loads"
    mine, other = WorkerLoads(path, 0, 2), WorkerLoads(path, 1, 2)
    start = time.monotonic()
    mine.change(+16, now=start)
    other.change(+13, now=start)
    assert not mine.overloaded(now=start + 1)  # a gap of 3 < a quarter of 16
    other.change(-2, now=start + 1)
    assert mine.overloaded(now=start + 2)  # a gap of 5 >= 4


def test_a_restarted_worker_starts_from_zero_and_the_others_keep_their_loads(tmp_path) -> None:
    path = tmp_path / "loads"
    first, second = WorkerLoads(path, 0, 2), WorkerLoads(path, 1, 2)
    first.change(+1)
    second.change(+2)
    WorkerLoads(path, 0, 2)  # worker 1 again, after a crash mid-request
    assert second.loads[:, HELD].tolist() == [0, 2]
    with pytest.raises(ValueError, match="slot 2"):
        WorkerLoads(path, 2, 2)


def test_the_files_of_gone_servers_are_removed_and_live_ones_kept(tmp_path) -> None:
    """BentoML ends its workers without their exit handlers, so each server leaves its file:
    the next one removes those whose supervisor is gone."""
    gone = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    gone.start()
    gone.join(60)
    stale, live = loads_path(gone.pid, tmp_path), loads_path(os.getpid(), tmp_path)
    WorkerLoads(stale, 0, 2)
    mine = WorkerLoads(live, 0, 2)
    (tmp_path / "unrelated").write_text("kept")
    forget_stale_loads(tmp_path)
    assert not stale.exists() and live.exists() and (tmp_path / "unrelated").exists()
    mine.change(+1)
    assert mine.loads[:, HELD].tolist() == [1, 0]


def guarded_answers(loads: WorkerLoads, held: int) -> list[bool]:
    """``held`` POSTs held by the guard at once, then answered one at a time: for each answer,
    whether it asked its client to reconnect."""
    turns = asyncio.Semaphore(0)

    async def app(scope, receive, send) -> None:  # the downstream answer: on its turn
        await receive()
        await turns.acquire()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    guard = RequestGuard(app, GuardConfig(direct_routes=False), loads=loads)

    async def post() -> bool:
        scope = {"type": "http", "method": "POST", "path": "/models",
                 "headers": [(b"content-type", b"application/json")]}
        starts = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                starts.append(dict(message["headers"]))

        await guard(scope, receive, send)
        return starts[0].get(b"connection") == b"close"

    async def main() -> list[bool]:
        posts = [asyncio.ensure_future(post()) for _ in range(held)]
        for remaining in range(held, 0, -1):
            while loads.loads[loads.slot, HELD] != remaining:  # the last answer has left
                await asyncio.sleep(0)
            turns.release()
        return list(await asyncio.gather(*posts))

    # a loop of its own, in a thread: the browser tests keep one running in the main thread
    answers: list[bool] = []
    worker = threading.Thread(target=lambda: answers.extend(asyncio.run(main())))
    worker.start()
    worker.join(30)
    return answers


def test_a_busier_worker_asks_its_surplus_to_reconnect(tmp_path) -> None:
    path = tmp_path / "loads"
    # averages over a nanosecond: the loads of the moment
    mine, other = (WorkerLoads(path, slot, 2, horizon_s=1e-9) for slot in (0, 1))
    # 4 held here, none on the other worker: the answers given while 4, 3 and 2 remain ask to
    # reconnect, the last one (1 against 0) does not
    assert sorted(guarded_answers(mine, held=4)) == [False, True, True, True]
    assert mine.loads[:, HELD].tolist() == [0, 0]  # every answered request left the count
    other.change(+3)
    assert not any(guarded_answers(mine, held=4))  # 4 against 3: balanced enough, kept open

