"""Test helpers: the real service as a subprocess on 127.0.0.1, and writable scratch homes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from features.home import PROJECT_ROOT, Home, resolve_home

API_KEY = "test-key-5f1c"  # the session server's TRADECAST_API_KEY


@dataclass
class Server:
    """A `tradecast serve` process (BentoML and its workers in their own process group)."""

    process: subprocess.Popen
    url: str
    log: Path

    @classmethod
    def start(cls, home: Path, log: Path, **env: str) -> Server:
        port = free_port()
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


def make_home(root: Path, exported_home: Home, sample_home: Home, variants: tuple[str, ...] = ()
              ) -> Home:
    """A writable home with the sample bars and copies of the exported models (all of them, or
    just ``variants``, the manifest saying so)."""
    home = resolve_home(root)
    shutil.copytree(sample_home.bars_dir, home.bars_dir)
    manifest = json.loads((exported_home.exported_dir / "manifest.json").read_text())
    kept = {v: e for v, e in manifest["variants"].items() if not variants or v in variants}
    for entry in kept.values():
        folder = entry["path"]
        shutil.copytree(exported_home.exported_dir / folder, home.exported_dir / folder)
    (home.exported_dir / "manifest.json").write_text(json.dumps({**manifest, "variants": kept}))
    return home


