"""Intra-op threads per variant, chosen by measurement and written where the service reads them.

``tradecast bench threads`` times each exported variant's onnxruntime session (opened with the
service's own options) with 1 and with 2 intra-op threads at batch 1 and batch 32 (the two
sessions interleaved call by call, so both see the same machine), picks a count per variant
and writes ``exported_models/threads.json``
(``contract.artifacts.THREADS_FILE``). The service's sessions read it; without it they use one
thread.

The rule: two threads only where they make batch 1 at least ``MARGIN`` faster. A second thread
that buys less than that costs a core another request (or another worker) could use.

Because the service runs one worker per core, the same run also compares two processes with
one thread each against one process with two threads, both calling the bare model at batch 1
for the same time: windows per second in total, written beside the choice.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np


def log(message: str) -> None:
    print(message, flush=True)  # progress as it happens, terminal or not


MARGIN = 0.10  # two threads must cut batch-1 p50 by at least this fraction to be chosen
THREAD_COUNTS = (1, 2)


def service_session(graph: Path, threads: int):
    """An onnxruntime session opened with the service's own options (no torch imported)."""
    import onnxruntime as ort

    from serving.artifacts import session_options

    return ort.InferenceSession(str(graph), session_options(threads),
                                providers=["CPUExecutionProvider"])


def _feeds(session, batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(batch)
    return {i.name: rng.standard_normal([batch, *i.shape[1:]]).astype(np.float32)
            for i in session.get_inputs()}


def compare_threads(graph: Path, batches: tuple[int, ...], budget_s: float) -> list[dict]:
    """p50 per batch for 1 and 2 intra-op threads, the sessions interleaved."""
    sessions = {count: service_session(graph, count) for count in THREAD_COUNTS}
    rows = []
    for batch in batches:
        feeds = _feeds(sessions[1], batch)
        timings: dict[int, list[float]] = {count: [] for count in sessions}
        for session in sessions.values():  # warm-up
            for _ in range(3):
                session.run(None, feeds)
        deadline = time.perf_counter() + budget_s
        while time.perf_counter() < deadline or len(timings[1]) < 5:
            for count, session in sessions.items():
                started = time.perf_counter()
                session.run(None, feeds)
                timings[count].append(time.perf_counter() - started)
        for count, seconds in timings.items():
            rows.append({"batch": batch, "threads": count, "runs": len(seconds),
                         "p50_ms": round(float(np.median(seconds)) * 1e3, 3)})
    return rows


def choose(rows: list[dict]) -> int:
    """Two threads where batch 1 is at least MARGIN faster with them, else one."""
    p50 = {r["threads"]: r["p50_ms"] for r in rows if r["batch"] == 1}
    return 2 if p50[2] <= (1 - MARGIN) * p50[1] else 1


def _worker(graph: str, threads: int, seconds: float, start_at: float, queue) -> None:
    session = service_session(Path(graph), threads)
    feeds = _feeds(session, 1)
    for _ in range(3):
        session.run(None, feeds)
    while time.time() < start_at:
        time.sleep(0.001)
    calls, deadline = 0, time.time() + seconds
    while time.time() < deadline:
        session.run(None, feeds)
        calls += 1
    queue.put(calls)


def throughput(graph: Path, *, processes: int, threads: int, seconds: float) -> float:
    """Windows per second of ``processes`` processes, each one session of ``threads`` threads."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start_at = time.time() + 4.0  # every process has loaded its session by then
    workers = [context.Process(target=_worker, args=(str(graph), threads, seconds, start_at,
                                                     queue)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    calls = sum(queue.get(timeout=seconds + 120) for _ in workers)
    for worker in workers:
        worker.join()
    return round(calls / seconds, 1)


def run(exported_dir: str | os.PathLike[str], variants: tuple[str, ...] | None = None,
        batches: tuple[int, ...] = (1, 32), budget_s: float = 3.0,
        workers_seconds: float = 5.0, write: bool = True) -> dict[str, Any]:
    """Measure, choose, and (with ``write``) replace ``exported_dir``/threads.json atomically."""
    from benchmarks.latency import exported_graphs
    from contract.artifacts import THREADS_FILE
    from contract.files import write_json_atomic

    graphs = exported_graphs(exported_dir)
    chosen_variants = variants or tuple(graphs)
    missing = [v for v in chosen_variants if v not in graphs]
    if missing:
        raise KeyError(f"not exported: {missing} (run `tradecast export` first)")
    load_before = os.getloadavg()[0]
    measured, threads, workers = {}, {}, {}
    for variant in chosen_variants:
        graph, _ = graphs[variant]
        rows = compare_threads(graph, batches, budget_s)
        measured[variant], threads[variant] = rows, choose(rows)
        for row in rows:
            log(f"threads: {variant:<8} batch {row['batch']:>3}, {row['threads']} thread(s): "
                f"p50 {row['p50_ms']:8.2f} ms")
        workers[variant] = {
            "2 processes x 1 thread": throughput(graph, processes=2, threads=1,
                                                 seconds=workers_seconds),
            "1 process x 2 threads": throughput(graph, processes=1, threads=2,
                                                seconds=workers_seconds),
        }
        log(f"threads: {variant:<8} -> {threads[variant]} thread(s); batch-1 windows/s: "
            + ", ".join(f"{k} {v}" for k, v in workers[variant].items()))
    result = {
        "threads": threads,
        "rule": f"2 threads where batch-1 p50 is at least {MARGIN:.0%} lower with them",
        "measured": measured,
        "workers_windows_per_s": workers,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    if write:
        path = Path(exported_dir) / THREADS_FILE
        write_json_atomic(path, result)
        log(f"threads: wrote {path}")
    return result
