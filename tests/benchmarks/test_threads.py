"""`bench threads`: 1 vs 2 threads measured per variant, the choice written where serving reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from benchmarks import threads
from contract.artifacts import THREADS_FILE, read_threads


def test_choice_follows_the_rule() -> None:
    def rows(one: float, two: float) -> list[dict]:
        return [{"batch": 1, "threads": 1, "p50_ms": one},
                {"batch": 1, "threads": 2, "p50_ms": two},
                {"batch": 32, "threads": 2, "p50_ms": 1.0}]

    assert threads.choose(rows(10.0, 8.9)) == 2
    assert threads.choose(rows(10.0, 9.5)) == 1  # under the margin: the core is worth more


def test_threads_json_is_written_and_read_back(exported_home, tmp_path: Path) -> None:
    exported = tmp_path / "exported_models"
    manifest = json.loads((exported_home.exported_dir / "manifest.json").read_text())
    manifest["variants"] = {"simplex": manifest["variants"]["simplex"]}
    shutil.copytree(exported_home.exported_dir / manifest["variants"]["simplex"]["path"],
                    exported / manifest["variants"]["simplex"]["path"])
    (exported / "manifest.json").write_text(json.dumps(manifest))
    result = threads.run(exported, batches=(1, 4), budget_s=0.2, workers_seconds=0.5)
    written = json.loads((exported / THREADS_FILE).read_text())
    assert written["threads"] == result["threads"] and set(written["threads"]) == {"simplex"}
    assert read_threads(exported) == result["threads"]
    measured = {(r["batch"], r["threads"]) for r in written["measured"]["simplex"]}
    assert measured == {(1, 1), (1, 2), (4, 1), (4, 2)}
    workers = written["workers_windows_per_s"]["simplex"]
    assert set(workers) == {"2 processes x 1 thread", "1 process x 2 threads"}
    assert all(rate > 0 for rate in workers.values())
