"""`tradecast bench all --quick` as CI runs it: the report's structure and the attention checks.

Timings are not asserted (they belong in the report); what is asserted is that every part ran,
wrote what the report promises, and that every variant's attention passed every check.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from benchmarks.attention import check_rows
from benchmarks.locust_stats import p99_drift
from benchmarks.report import SECTIONS
from benchmarks.suite import PARTS
from contract.home import Home, resolve_home

ATTENTION_CHECKS = {"torch": {"shape", "non-negative", "sums to 1"},
                    "onnx": {"shape", "non-negative", "sums to 1", "equals torch"},
                    "http": {"shape", "non-negative", "sums to 1", "equals torch"}}


@pytest.fixture(scope="session")
def bench_home(sample_home, exported_home, tmp_path_factory) -> Home:
    """The sample bars and the four exported variants, both linked (read-only) into one home."""
    home = resolve_home(tmp_path_factory.mktemp("bench_home"))
    home.bars_dir.parent.mkdir(parents=True, exist_ok=True)
    home.bars_dir.symlink_to(sample_home.bars_dir, target_is_directory=True)
    home.exported_dir.symlink_to(exported_home.exported_dir, target_is_directory=True)
    return home


@pytest.fixture(scope="session")
def quick_run(bench_home, tmp_path_factory) -> tuple[Path, dict]:
    """One `bench all --quick` through the CLI, as CI runs it."""
    out = tmp_path_factory.mktemp("bench_quick")
    finished = subprocess.run(
        [sys.executable, "-m", "tradecast", "bench", "all", "--quick", "--out", str(out),
         "--home", str(bench_home.root)],
        capture_output=True, text=True, timeout=540,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return out, json.loads((out / "results.json").read_text())


def test_results_hold_every_part_and_every_target(quick_run):
    _, results = quick_run
    assert set(PARTS) <= set(results)
    assert results["meta"]["quick"] is True
    not_measured = [t["name"] for t in results["targets"] if t["measured"] is None]
    assert not_measured == []
    assert all(t["met"] in (True, False) for t in results["targets"])


def test_latency_covers_every_variant_engine_and_batch(quick_run, bench_home):
    _, results = quick_run
    manifest = json.loads((bench_home.exported_dir / "manifest.json").read_text())
    seen = {(r["variant"], r["engine"], r["batch"]) for r in results["latency"]["rows"]}
    batches = results["meta"]["config"]["latency_batches"]
    expected = {(v, e, b) for v in manifest["variants"] for e in ("torch", "onnxruntime")
                for b in batches}
    assert seen == expected
    for row in results["latency"]["rows"]:
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
        assert row["windows_per_s"] > 0 and row["threads"] >= 1


def test_report_has_every_section_and_its_charts(quick_run):
    out, _ = quick_run
    text = (out / "report.md").read_text()
    for title in [*SECTIONS, "Charts"]:
        assert f"## {title}\n" in text
    assert "(not run)" not in text
    charts = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)
    assert {"latency.png", "throughput.png", "http.png", "load.png", "attention.png"} <= set(charts)
    for name in charts:
        image = matplotlib.image.imread(out / name)  # fails on anything but a valid PNG
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_every_attention_check_ran_and_passed_for_every_variant(quick_run, bench_home):
    _, results = quick_run
    manifest = json.loads((bench_home.exported_dir / "manifest.json").read_text())
    checks = results["attention"]["checks"]
    for variant in manifest["variants"]:
        for path, expected in ATTENTION_CHECKS.items():
            ran = {c["check"] for c in checks if c["variant"] == variant and c["path"] == path}
            assert ran == expected, (variant, path)
    failed = [c for c in checks if not c["passed"]]
    assert failed == []


def test_load_run_reached_every_endpoint_without_failures(quick_run, bench_home):
    out, results = quick_run
    manifest_variants = json.loads((bench_home.exported_dir / "manifest.json").read_text())[
        "variants"]
    loads = results["load"]
    (mixed,) = [load for load in loads.values() if load["config"]["scenario"] == "mixed"]
    endpoints = mixed["endpoints"]
    for name in ("predict", "predict + attention", "ingest", "signals", "Aggregated"):
        assert endpoints[name]["requests"] > 0, name
    assert sum(n["requests"] for name, n in mixed["names"].items()
               if name.startswith("predict [")) == endpoints["predict"]["requests"]
    closed = [load for load in loads.values() if load["config"]["scenario"] == "predict"]
    assert [load["config"]["users"] for load in closed] == [1, 2]
    assert all(set(load["endpoints"]) == {"predict", "Aggregated"} for load in closed)
    for load in loads.values():
        assert load["endpoints"]["Aggregated"]["failures"] == 0, load["failures"]
        assert all((out / name).stat().st_size > 0 for name in load["csv"])
        roles = [p["role"] for p in load["memory"]["processes"]]
        assert roles.count("live-state worker") == 1 and roles.count("API worker") >= 1
        assert load["bare"]["capacity_rps"] > 0
        assert set(load["bare_by_variant"]) == set(manifest_variants)
        # the ramp-up left out: fewer requests than in all, and the same request names
        steady, everything = load["steady"]["all"]["requests"], load["names"]["Aggregated"]
        assert 0 < steady < everything["requests"]
        assert set(load["steady"]) - {"all"} <= set(load["names"])
    text = (out / "report.md").read_text()
    assert "after ramp-up: worst predict p99 / that variant's bare p99" in text


def test_bulk_endpoints_were_timed_for_every_variant(quick_run, bench_home):
    _, results = quick_run
    manifest = json.loads((bench_home.exported_dir / "manifest.json").read_text())
    http = results["http"]
    assert {(r["variant"], r["batch"]) for r in http["bulk"]} == {
        (v, b) for v in manifest["variants"] for b in (1, 32)}
    assert set(http["bulk_ratio"]) == set(manifest["variants"])
    assert {r["batch"] for r in http["bulk_ingest"]} == {1, 32}
    stages = {r["path"] for r in http["rows"] if r["path"].startswith("stage: ")}
    assert stages == {f"stage: {s}" for s in ("parse", "validate", "features", "model",
                                              "response")}
    # the lean client's predict and the heavier httpx one, timed side by side
    paths = {r["path"]: r for r in http["rows"]}
    assert paths["predict"]["p50_ms"] > 0
    assert paths["predict (httpx client, body encoded per call)"]["p50_ms"] > 0


def test_attention_checks_catch_bad_weights():
    good = np.full((2, 60), 1 / 60)
    assert all(c["passed"] for c in check_rows(good, good, 60, "v", "onnx"))
    negative = good.copy()
    negative[0, :2] = [-0.1, 0.1 + 2 / 60]
    unnormalised = good * 1.01
    shifted = good.copy()
    shifted[1, :2] += [1e-3, -1e-3]
    failed = {name: {c["check"] for c in check_rows(bad, good, 60, "v", "onnx") if not c["passed"]}
              for name, bad in (("negative", negative), ("unnormalised", unnormalised),
                                ("shifted", shifted))}
    assert failed == {"negative": {"non-negative", "equals torch"},
                      "unnormalised": {"sums to 1", "equals torch"},
                      "shifted": {"equals torch"}}
    assert [c["passed"] for c in check_rows(good[:, :59], None, 60, "v", "http")] == [False]


def test_p99_drift_compares_first_and_last_window(tmp_path):
    log = tmp_path / "requests.csv"
    times = np.arange(0, 300, 0.1)
    latencies = np.where(times < 150, 5.0, 9.0)  # the server got slower half-way
    rows = "\n".join(f"{t},predict,{ms},False" for t, ms in zip(times, latencies, strict=True))
    log.write_text("time,name,ms,failed\n" + rows + "\n")
    drift = p99_drift(log, window_s=60)
    assert drift["first_p99_ms"] == 5.0 and drift["last_p99_ms"] == 9.0
    assert drift["drift_ms"] == 4.0
