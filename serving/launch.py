"""Starting the service: `tradecast serve` execs `bentoml serve`; `ServerProcess` runs it aside."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from contract.artifacts import manifest_folders
from contract.home import PROJECT_ROOT, resolve_home
from serving.examples import curl_example


def exec_server(home: str | os.PathLike[str] | None, host: str, port: int,
                workers: int | None = None) -> None:
    """Check the home, print a curl example, then replace this process with `bentoml serve`.

    Replacing (not wrapping) the process means a SIGTERM or Ctrl-C reaches BentoML directly, so
    its shutdown hook saves the live state.
    """
    resolved = resolve_home(home)
    manifest_folders(resolved.exported_dir)  # fails now, clearly, if nothing is exported
    example = curl_example(resolved, f"http://{host}:{port}")
    print(f"serving {resolved.exported_dir} on http://{host}:{port} (docs at /)", flush=True)
    if example:
        print(f"try:\n  {example}", flush=True)
    os.environ["TRADECAST_HOME"] = str(resolved.root)
    # BentoML keeps its Prometheus files (/metrics) in $BENTOML_HOME/prometheus_multiproc_dir
    # and empties that folder whenever a server starts, so a second server on the machine
    # would wipe this one's metrics: each port gets a BentoML home of its own.
    os.environ["BENTOML_HOME"] = str(resolved.server_dir(port))
    if workers is not None:  # read by serving.service when BentoML imports it
        os.environ["TRADECAST_WORKERS"] = str(workers)
    command = [
        sys.executable, "-m", "bentoml", "serve", "serving.service:TradecastService",
        "--host", host, "--port", str(port), "--working-dir", str(PROJECT_ROOT),
    ]
    os.chdir(PROJECT_ROOT)
    os.execv(sys.executable, command)


@dataclass
class ServerProcess:
    """A `tradecast serve` subprocess on 127.0.0.1, for the demo, benchmarks and tests.

    BentoML's workers run in process sessions of their own, so `kill` signals each one by id.
    """

    process: subprocess.Popen
    url: str
    log: Path

    @classmethod
    def start(cls, home: Path, log: Path, port: int | None = None, **env: str) -> ServerProcess:
        """Start `tradecast serve` on ``port`` (a free one by default) and wait until it's ready."""
        port = port or free_port()
        command = [sys.executable, "-m", "tradecast", "serve", "--home", str(home),
                   "--host", "127.0.0.1", "--port", str(port)]
        with log.open("a") as sink:  # a file, not a pipe: a full pipe would block the server
            process = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, **env}, cwd=PROJECT_ROOT,
            )
        server = cls(process, f"http://127.0.0.1:{port}", log)
        server.wait_ready()
        return server

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.kill()
        raise RuntimeError(f"server not ready after {timeout_s} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM to BentoML's arbiter: it stops its workers, which save the live state."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the arbiter and its workers (they run in sessions of their own): a crash."""
        if self.process.poll() is None:
            workers = psutil.Process(self.process.pid).children(recursive=True)
            for process in [self.process, *workers]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
            self.process.wait()
            psutil.wait_procs(workers, timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
