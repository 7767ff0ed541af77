"""HTTP load with locust: realistic users against a service started on 127.0.0.1.

``run`` starts ``tradecast serve`` on a free 127.0.0.1 port (or reuses the suite's server, also
local), runs ``benchmarks/locustfile.py`` headless in a subprocess (locust patches the standard
library with gevent, which must not happen inside this process), and folds locust's CSV output
into one dict: requests per second, p50 / p95 / p99 and failures per request name (one per
endpoint and variant: ``predict [hybrid]``) and per endpoint (folded from the request log).

Two scenarios: ``mixed`` (analysts, feeds, dashboards) and ``predict`` (a closed loop of
predicts for one variant). ``bare_models`` measures, in this process and run, each variant's
own batch-1 latency and the capacity it allows (cores / bare p50), which the load is compared
with; ``steady`` leaves the ramp-up out (every user connecting and sending its first request).

While locust runs, a thread samples the server's resident memory (the BentoML process tree,
psutil), so a long run shows whether memory grows. The locustfile also logs every request's
latency; a soak run uses that log to compare the p99 of its first and last minute.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from benchmarks.locust_stats import (
    endpoint_stats,
    p99_drift,
    read_locust_failures,
    read_locust_stats,
    steady_stats,
)

if TYPE_CHECKING:
    import pandas as pd

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
LOCAL_HOSTS = ("127.0.0.1", "localhost")
STREAM_SYMBOLS = ("AAPL", "GOOG", "INTC", "SPY")  # sample symbols whose real bars users send
RAMP_MARGIN_S = 2.0  # seconds after the last user started that still count as ramp-up
SCENARIOS = {"mixed": ("Analyst", "Feed", "Dashboard"), "predict": ("Predictor",)}  # user classes


@dataclass(frozen=True)
class LoadConfig:
    users: int = 10  # concurrent simulated users
    duration_s: int = 60  # how long locust sends requests
    spawn_rate: float = 10.0  # users started per second at the beginning
    soak: bool = False  # long run: report p99 drift and memory growth
    drift_window_s: int = 60  # the "first" and "last" windows a soak run compares
    memory_interval_s: float = 2.0  # how often the server's memory is sampled
    name: str = ""  # CSV prefix under the output folder; derived from users when empty
    scenario: str = "mixed"  # "mixed" or "predict" (closed loop, one variant)
    variant: str = "hybrid"  # the predict-only scenario's variant

    @property
    def prefix(self) -> str:
        kind = "soak" if self.soak else "predict" if self.scenario == "predict" else "locust"
        return self.name or f"{kind}_{self.users}u"


SOAK_DEFAULTS = LoadConfig(users=20, duration_s=600, soak=True)


def run(home: str | os.PathLike[str] | None, out: str | os.PathLike[str],
        config: LoadConfig = LoadConfig(), server: LocalServer | None = None) -> dict:
    """Run one locust load against a local server and return its summary.

    ``server`` reuses a running local server; otherwise one is started for this run and stopped
    after it.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if server is not None:
        return _run_against(server, home, out, config)
    with local_server(home) as started:
        return _run_against(started, home, out, config)


@dataclass(frozen=True)
class LocalServer:
    url: str  # http://127.0.0.1:<port>
    pid: int  # the server's process (BentoML's workers are its children)


@contextmanager
def local_server(home: str | os.PathLike[str] | None, ready_timeout_s: float = 120.0
                 ) -> Iterator[LocalServer]:
    """Start ``tradecast serve`` on a free 127.0.0.1 port, wait until ready, stop it after.

    The server keeps its live state in a scratch folder: benchmark streams never reach the
    home's own live state.
    """
    port = _free_local_port()
    command = [sys.executable, "-m", "tradecast", "serve", "--host", "127.0.0.1",
               "--port", str(port)]
    if home is not None:
        command += ["--home", str(home)]
    # A file, not a pipe: a busy server's access log would fill a pipe and block the server.
    with tempfile.TemporaryFile(mode="w+") as log, tempfile.TemporaryDirectory() as state:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, TRADECAST_STATE_DIR=state),
                                   start_new_session=True, preexec_fn=_die_with_parent)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_ready(url, process, log, ready_timeout_s)
            yield LocalServer(url, process.pid)
        finally:
            _stop(process)


def _wait_until_ready(url: str, process: subprocess.Popen, log, timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the server exited ({process.returncode}) before it was "
                               f"ready:\n{log.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server at {url} was not ready after {timeout_s} s")
        time.sleep(0.5)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group (BentoML's workers too), SIGKILL if it lingers."""
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _die_with_parent() -> None:
    """In the server's process: get SIGTERM when the benchmark dies, even by SIGKILL (Linux)."""
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_local_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_against(server: LocalServer, home, out: Path, config: LoadConfig) -> dict:
    url = server.url
    if urlparse(url).hostname not in LOCAL_HOSTS:
        raise ValueError(f"load tests run against 127.0.0.1 only, not {url}")
    prefix = out / config.prefix
    request_log = out / f"{config.prefix}_requests.csv"
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", url, "--users", str(config.users), "--spawn-rate", str(config.spawn_rate),
        "--run-time", f"{config.duration_s}s", "--stop-timeout", "5",
        "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
        *SCENARIOS[config.scenario],
    ]
    env = dict(os.environ, TRADECAST_LOAD_LOG=str(request_log),
               TRADECAST_LOAD_VARIANT=config.variant)
    if home is not None:
        env["TRADECAST_HOME"] = str(home)
    memory = MemorySampler(server.pid, config.memory_interval_s)
    rebalanced = rebalanced_connections(url)
    with memory:
        started = time.perf_counter()
        finished = subprocess.run(command, env=env, capture_output=True, text=True,
                                  timeout=config.duration_s + 120)
        elapsed = time.perf_counter() - started
    rebalanced = rebalanced_connections(url) - rebalanced
    stats_path = Path(f"{prefix}_stats.csv")
    if not stats_path.exists():
        raise RuntimeError(f"locust wrote no statistics (exit {finished.returncode}):\n"
                           f"{finished.stderr[-2000:]}")
    summary = {
        "config": asdict(config),
        "url": url,
        "wall_s": round(elapsed, 1),
        "locust_exit_code": finished.returncode,
        "names": read_locust_stats(stats_path),
        "endpoints": endpoint_stats(request_log, read_locust_stats(stats_path)),
        "failures": read_locust_failures(Path(f"{prefix}_failures.csv")),
        "memory": memory.summary(),
        "rebalanced": rebalanced,  # answers that asked their client to reconnect elsewhere
        "csv": sorted(p.name for p in out.glob(f"{config.prefix}_*.csv")),
    }
    # after every user has connected: users / spawn rate, plus a margin for the first requests
    summary["steady"] = steady_stats(request_log, config.users / config.spawn_rate + RAMP_MARGIN_S)
    if config.soak:
        summary["drift"] = p99_drift(request_log, config.drift_window_s)
    return summary


def rebalanced_connections(url: str) -> int:
    """The server's count of answers that closed their connection to spread the load
    (`serving.balance`), summed over its API workers, from ``/metrics``."""
    import httpx

    text = httpx.get(f"{url}/metrics", timeout=10).text
    return round(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                     if line.startswith("tradecast_rebalanced_connections_total")))


def bare_models(home: str | os.PathLike[str] | None, runs: int = 200) -> dict[str, dict]:
    """Each exported variant's batch-1 latency in this process, on real windows, and the
    capacity it allows (cores / bare p50, requests per second): what load is compared with."""
    import numpy as np

    from contract.home import resolve_home
    from features.engine import compute_features
    from serving.config import ServingConfig
    from serving.forecasting import Forecaster
    from serving.registry import ModelRegistry

    forecaster = Forecaster(ModelRegistry(resolve_home(home).exported_dir), ServingConfig())
    bars = read_sample_bars(home)["AAPL"]
    frame = compute_features(bars.iloc[-bars_per_prediction():])
    cores = os.cpu_count() or 1
    bare = {}
    for variant in forecaster.registry.models:
        forecaster.predict_frame(frame, variant)  # first run: allocations
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            forecaster.predict_frame(frame, variant)
            samples.append(time.perf_counter() - started)
        p50, p99 = (float(np.percentile(samples, q)) * 1e3 for q in (50, 99))
        bare[variant] = {"variant": variant, "p50_ms": round(p50, 3), "p99_ms": round(p99, 3),
                         "cores": cores, "capacity_rps": round(cores * 1e3 / p50, 1)}
    return bare


class MemorySampler:
    """Samples the resident memory of a process and its children in a background thread."""

    def __init__(self, pid: int, interval_s: float) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MiB)
        self.last_tree: list[tuple[int, str, float, float]] = []  # (pid, role, MiB, CPU s)
        self.first_cpu: dict[int, float] = {}  # CPU seconds of each process at its first sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psutil

        root = psutil.Process(self.pid)
        started = time.perf_counter()
        while not self._stop.is_set():
            try:
                tree = [(p.pid, role_of(p), p.memory_info().rss / 2**20, sum(p.cpu_times()[:2]))
                        for p in [root, *root.children(recursive=True)]]
            except psutil.NoSuchProcess:
                return
            for pid, _, _, cpu in tree:
                self.first_cpu.setdefault(pid, cpu)
            self.last_tree = tree
            self.samples.append((round(time.perf_counter() - started, 1),
                                 sum(mib for _, _, mib, _ in tree)))
            self._stop.wait(self.interval_s)

    def summary(self) -> dict | None:
        if not self.samples:
            return None
        first, last = self.samples[0][1], self.samples[-1][1]
        # the server's processes at the end: role, resident memory, CPU seconds used in the run
        # (how evenly the API workers shared the work)
        processes = [{"role": role, "rss_mib": round(mib, 1),
                      "cpu_s": round(cpu - self.first_cpu[pid], 1)}
                     for pid, role, mib, cpu in self.last_tree]
        return {
            "start_mib": round(first, 1),
            "end_mib": round(last, 1),
            "peak_mib": round(max(mib for _, mib in self.samples), 1),
            "growth_mib": round(last - first, 1),
            "growth_pct": round(100 * (last - first) / first, 1),
            "processes": processes,
            "samples": [(t, round(mib, 1)) for t, mib in self.samples],
        }


def role_of(process) -> str:
    """What a process of the server's tree is: an API worker, the live state or a supervisor."""
    command = " ".join(process.cmdline())
    if "--service-name tradecast-live" in command:
        return "live-state worker"
    if "--service-name tradecast " in command:
        return "API worker"
    return "supervisor"


# Request bodies, shared by the locust users and the attention check over HTTP.


def read_sample_bars(home: str | os.PathLike[str] | None) -> dict[str, pd.DataFrame]:
    """The real daily bars the users send, from the home's bar store."""
    from contract.home import resolve_home
    from marketdata.store import BarStore

    store = BarStore(resolve_home(home).bars_dir)
    return {symbol: store.read(symbol, "1d") for symbol in STREAM_SYMBOLS}


def bars_per_prediction() -> int:
    """Bars a predict request carries: the window plus the longest feature warm-up."""
    from serving.forecasting import MIN_BARS

    return MIN_BARS


def predict_request(symbol: str, bars: pd.DataFrame, variant: str = "hybrid",
                    return_attention: bool = False) -> dict:
    """A predict body carrying ``bars`` (a bar frame, oldest first)."""
    from serving.examples import bar_json

    return {"symbol": symbol, "bars": [bar_json(bar) for bar in bars.itertuples()],
            "variant": variant, "return_attention": return_attention}
