"""Background jobs: fetch, import, train, backtest and export as `python -m tradecast ...`.

A job is the very command a person would type, run in a process of its own (never inside the
serving worker: training takes minutes and torch must not enter serving). Its folder
``<home>/jobs/<id>/`` holds ``job.json`` (what, when, state) and ``log.txt`` (the command's
output), so any worker, and the CLI, can read it; results land where the command puts them in
the home folder. Progress is read from the command's own progress bars (tqdm's ``NN%|``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from contract.errors import UnknownSymbolError
from contract.files import write_atomic
from contract.home import PROJECT_ROOT, Home
from serving.dashboard.paths import backtests_dir, child, jobs_dir

LOG_FILE = "log.txt"
JOB_FILE = "job.json"
TAIL_LINES = 40
PERCENT = re.compile(r"(\d{1,3})%\|")
EPOCHS_PERCENT = re.compile(r"epochs:\s+(\d{1,3})%\|")


@dataclass(frozen=True)
class JobCommand:
    kind: str  # fetch, import, train, backtest or export
    arguments: tuple[str, ...]  # after `python -m tradecast`, without --home
    summary: str  # one line for the jobs table


def job_id(kind: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{kind}-{uuid.uuid4().hex[:6]}"


class JobManager:
    """Starts, lists and cancels the home's jobs; each job's state lives in its folder."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.root = jobs_dir(home)

    def new_folder(self, kind: str) -> tuple[str, Path]:
        identifier = job_id(kind)
        folder = self.root / identifier
        folder.mkdir(parents=True)
        return identifier, folder

    def start(self, command: JobCommand, identifier: str | None = None) -> dict:
        """Run ``command`` aside; returns the job's record at once."""
        if identifier is None:
            identifier, folder = self.new_folder(command.kind)
        else:
            folder = self.root / identifier
        home = str(self.home.root)
        argv = [sys.executable, "-m", "tradecast", *command.arguments, "--home", home]
        record = {"id": identifier, "kind": command.kind, "summary": command.summary,
                  "command": ["tradecast", *command.arguments], "state": "running",
                  "created": time.time(), "finished": None, "returncode": None}
        with (folder / LOG_FILE).open("w") as sink:  # a file: a full pipe would stall the job
            process = subprocess.Popen(
                argv, stdout=sink, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
                start_new_session=True,  # its own process group, so cancel reaches its children
                env={**os.environ, "TRADECAST_HOME": str(self.home.root), "COLUMNS": "120"},
            )
        record["pid"] = process.pid
        write_atomic(folder / JOB_FILE, json.dumps(record))
        threading.Thread(target=self.watch, args=(process, folder), daemon=True).start()
        return self.describe(identifier)

    def watch(self, process: subprocess.Popen, folder: Path) -> None:
        """Wait for the process and write how it ended."""
        code = process.wait()
        record = json.loads((folder / JOB_FILE).read_text())
        if record["state"] == "running":
            record["state"] = "succeeded" if code == 0 else "failed"
        record.update(returncode=code, finished=time.time())
        write_atomic(folder / JOB_FILE, json.dumps(record))

    def cancel(self, identifier: str) -> dict:
        folder = child(self.root, identifier, "job", "job")
        record = read_record(folder)
        if record["state"] == "running":
            record["state"] = "cancelled"
            write_atomic(folder / JOB_FILE, json.dumps(record))
            with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
                os.killpg(record["pid"], signal.SIGTERM)
        return self.describe(identifier)

    def describe(self, identifier: str) -> dict:
        """A job's record with its progress, log tail and (on failure) its error line."""
        folder = child(self.root, identifier, "job", "job")
        record = read_record(folder)
        if record["state"] == "running" and not process_alive(record["pid"]):
            time.sleep(0.2)  # its watcher may be writing how it ended right now
            record = read_record(folder)
            if record["state"] == "running":  # the serving process that watched it restarted
                record["state"] = "lost"
        log = folder / LOG_FILE
        text = log.read_text(errors="replace") if log.exists() else ""
        lines = log_lines(text)
        record["log_tail"] = lines[-TAIL_LINES:]
        record["progress"] = 1.0 if record["state"] == "succeeded" else progress(text)
        record["error"] = error_line(lines) if record["state"] == "failed" else None
        record["result"] = self.result(record, lines)
        return record

    def result(self, record: dict, lines: list[str]) -> dict | None:
        """Where the job's output is, for the pages to open it."""
        if record["kind"] == "backtest":
            return {"backtest": record["id"]}
        if record["kind"] == "train":
            for line in lines:
                if line.startswith("run written to "):
                    run = Path(line.removeprefix("run written to ").strip())
                    return {"variant": run.parent.name, "run": run.name}
            return self.newest_run(record)
        return None

    def newest_run(self, record: dict) -> dict | None:
        """A run still training: its variant's newest run folder made after the job started."""
        variant = record["command"][record["command"].index("--variant") + 1]
        folder = self.home.checkpoints_dir / variant
        runs = [p for p in folder.glob("*")
                if p.is_dir() and p.stat().st_mtime >= record["created"]]
        if not runs:
            return None
        run = max(runs, key=lambda p: p.stat().st_mtime)
        return {"variant": variant, "run": run.name}

    def list(self, limit: int = 50) -> list[dict]:
        if not self.root.exists():
            return []
        folders = sorted((p for p in self.root.iterdir() if (p / JOB_FILE).exists()),
                         key=lambda p: p.name, reverse=True)
        return [self.describe(p.name) for p in folders[:limit]]

    def backtest_out(self, identifier: str) -> Path:
        return backtests_dir(self.home) / identifier


def read_record(folder: Path) -> dict:
    try:
        return json.loads((folder / JOB_FILE).read_text())
    except FileNotFoundError as missing:
        raise UnknownSymbolError(f"job: {folder.name!r} has no record") from missing


def log_lines(text: str) -> list[str]:
    """The log as a terminal shows it: a carriage return rewrites its line (progress bars)."""
    lines = []
    for raw in text.split("\n"):
        shown = raw.rstrip("\r").split("\r")[-1].replace("\x1b[A", "").rstrip()
        if shown:
            lines.append(shown)
    return lines


def progress(text: str) -> float | None:
    """The last progress bar's fraction (training: its epochs bar); None before any bar."""
    found = EPOCHS_PERCENT.findall(text) or PERCENT.findall(text)
    return min(int(found[-1]), 100) / 100 if found else None


def error_line(lines: list[str]) -> str:
    """The CLI's `error: ...` line, else the last line (a traceback's exception)."""
    errors = [line for line in lines if line.startswith("error:")]
    if errors:
        return errors[-1]
    return lines[-1] if lines else "the job failed without output"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True  # (an ended child that its watcher has not reaped yet is still alive here)
