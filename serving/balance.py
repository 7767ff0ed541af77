"""Keep-alive clients spread by load: a worker busier than another asks a client to reconnect.

The API workers share one listening socket, and keep-alive pins each client to the worker that
accepted its connection, so which worker serves whom is decided by who woke first when the
clients connected (measured: one worker doing the work of five closed-loop users while the
other did three, or all eight). Each worker keeps its load in its own slot of a small file that
every API worker of the server maps (`WorkerLoads`): the requests it holds (received, not yet
answered) and their average over the last ``horizon_s``. A worker whose average is above the
least busy worker's by ``margin`` requests, and by ``share`` of its own average (under heavy
load a worker's requests come and go by the batch), answers with ``connection: close``; the
client reconnects, and a new connection goes to a worker that is free to accept it.

The average, not the count of the moment, because a coalesced model run answers several clients
at once: for the millisecond until they send again, that worker holds two or three requests
fewer than its share, and comparing counts of the moment (measured, 8 closed-loop users) closed
about one connection in nine of a balanced server, as many as the random one answer in eight it
replaced; the average closed 1 to 5 in a thousand and still evened out the workers' CPU time
(README, "The service").

The file lives in /dev/shm (memory) and is named after the workers' parent process, BentoML's
supervisor, so two servers on one machine never share it. BentoML ends its workers without
running their exit handlers, so each server's file stays behind it: a worker that opens its
own removes those of supervisors that are gone. Each slot has one writer, its worker;
the others only read it, so no lock is needed: a read that races a write sees a load just before
or just after it, either a fair picture. Times are `time.monotonic`, one clock for every
process of the machine.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import time
from pathlib import Path

import bentoml
import numpy as np
import psutil
from numpy.typing import ArrayLike

LOADS_DIR = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
NAME = "tradecast-{}-worker-loads"  # the supervisor's pid in braces
FIELDS = 3  # per worker: requests held now, their average, when the average was last brought up
HELD, AVERAGE, STAMP = range(FIELDS)
# On /metrics: how many answers asked their client to reconnect elsewhere (few while balanced).
REBALANCED = bentoml.metrics.Counter(
    name="tradecast_rebalanced_connections",
    documentation="answers that closed their connection because this worker was busier",
)


def decayed(held: ArrayLike, average: ArrayLike, elapsed_s: ArrayLike, horizon_s: float
            ) -> np.ndarray:
    """The exponential average of a count ``held`` since ``elapsed_s`` ago, when it was
    ``average`` (scalars or arrays alike)."""
    return held + (average - held) * np.exp(-np.maximum(elapsed_s, 0) / horizon_s)


def loads_path(supervisor: int, folder: Path = LOADS_DIR) -> Path:
    """The shared file of the server whose API workers are children of ``supervisor``."""
    return folder / NAME.format(supervisor)


def forget_stale_loads(folder: Path = LOADS_DIR) -> None:
    """Remove the files of servers whose supervisor is gone."""
    for path in folder.glob(NAME.format("*")):
        supervisor = path.name.split("-")[1]
        if supervisor.isdigit() and not psutil.pid_exists(int(supervisor)):
            path.unlink(missing_ok=True)


class WorkerLoads:
    """The load of each API worker of a server, one slot each; this worker writes ``slot``.

    Every worker opens the same ``path`` with the same ``workers``; the first one creates it.
    """

    def __init__(self, path: Path, slot: int, workers: int, *, margin: float = 1.5,
                 share: float = 0.25, horizon_s: float = 0.1) -> None:
        if not 0 <= slot < workers:
            raise ValueError(f"worker slot {slot} outside 0..{workers - 1}")
        self.path, self.slot, self.horizon_s = path, slot, horizon_s
        self.margin, self.share = margin, share
        size = workers * FIELDS * 8
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(descriptor).st_size < size:  # every worker asks for the same size
                os.ftruncate(descriptor, size)
            self.map = mmap.mmap(descriptor, size)
        finally:
            os.close(descriptor)  # the mapping keeps the file open
        self.loads = np.frombuffer(self.map, dtype=np.float64).reshape(workers, FIELDS)
        self.loads[slot] = (0.0, 0.0, time.monotonic())  # a restarted worker holds nothing yet

    def averages(self, now: float) -> np.ndarray:
        """Every worker's requests held, averaged over about the last ``horizon_s`` up to
        ``now``: the exponential average of a count that is constant between two updates."""
        held, average, stamp = self.loads.T
        return decayed(held, average, now - stamp, self.horizon_s)

    def change(self, by: int, now: float | None = None) -> None:
        """This worker now holds ``by`` more (or fewer) requests."""
        now = time.monotonic() if now is None else now
        own = self.loads[self.slot]
        held, average, stamp = own
        own[:] = (held + by, decayed(held, average, now - stamp, self.horizon_s), now)

    def overloaded(self, now: float | None = None) -> bool:
        """Whether this worker holds a request beyond its current one and its average load is
        above the least busy worker's by ``margin`` requests and by ``share`` of its own."""
        now = time.monotonic() if now is None else now
        averages = self.averages(now)
        own = averages[self.slot]
        gap = own - averages.min()
        return self.loads[self.slot, HELD] >= 2 and gap >= max(self.margin, self.share * own)

    def shed(self) -> bool:
        """`overloaded`, counted on /metrics when it is: the answer then closes its connection."""
        if not self.overloaded():
            return False
        REBALANCED.inc()
        return True


def open_worker_loads(workers: int, margin: float) -> WorkerLoads | None:
    """This API worker's `WorkerLoads`, or None outside a BentoML worker or when alone."""
    from bentoml._internal.context import server_context

    index = server_context.worker_index  # 1, 2, ... in each service's workers
    if index is None or workers < 2 or margin <= 0:
        return None
    forget_stale_loads()
    return WorkerLoads(loads_path(os.getppid()), index - 1, workers, margin=margin)
