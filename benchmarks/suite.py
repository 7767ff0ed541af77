"""``tradecast bench all``: every benchmark in one run, one report, every figure by its target.

The parts are the benchmarks the other packages own (``benchmarks.latency`` for the models,
``benchmarks.http`` for the service path, ``benchmarks.features`` for the feature engine) plus
``benchmarks.attention`` and the locust load of ``benchmarks.load``. ``run`` calls them with the
sizes of a full or a ``--quick`` run, folds their outputs into the plain rows
``benchmarks.report`` reads, and writes ``results.json``, ``report.md`` and the PNG charts.
One local server (127.0.0.1) is started for the parts that need it and stopped at the end.
"""

from __future__ import annotations

import json
import os
import platform
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import report
from benchmarks.charts import write_charts
from contract.home import resolve_home

if TYPE_CHECKING:
    from benchmarks.load import LocalServer

PARTS = ("latency", "features", "http", "attention", "load")  # the server parts come last
SERVER_PARTS = {"attention", "load"}  # parts that share the suite's server


@dataclass(frozen=True)
class SuiteConfig:
    latency_batches: tuple[int, ...] = (1, 32, 256)  # batch sizes timed per variant and engine
    latency_runs: tuple[int, ...] = (200, 30, 3)  # timed calls per batch size (full: s per call)
    latency_warmup: tuple[int, ...] = (20, 3, 1)  # untimed calls before them, per batch size
    latency_threads: int = 2  # torch and onnxruntime threads (the machine's two cores)
    http_variant: str = "hybrid"  # the variant timed through the service
    http_requests: int = 300  # requests per HTTP path
    http_bulk_batches: tuple[int, ...] = (1, 32)  # symbols per predict_many / ingest_many request
    http_bulk_runs: tuple[int, ...] = (30, 8)  # timed bulk requests per batch size
    attention_windows: int = 3  # real sample windows per symbol checked and drawn
    load_users: tuple[int, ...] = (10, 50)  # one locust run per number of users
    load_duration_s: int = 60  # seconds per locust run
    bare_runs: int = 200  # timed batch-1 calls per variant for the load's bare latency
    closed_loop_users: tuple[int, ...] = (1, 8, 32)  # predict-only closed loop, one run each
    closed_loop_duration_s: int = 30  # seconds per closed-loop run
    quick: bool = False  # parts that have a quick mode (the feature benchmark) use it


# One thread in the smoke run: two threads per engine on a busy 2-core machine wait on each other.
QUICK = SuiteConfig(latency_batches=(1, 4), latency_runs=(10, 5), latency_warmup=(3, 1),
                    latency_threads=1, http_requests=30, http_bulk_runs=(3, 1),
                    attention_windows=2, load_users=(4,), load_duration_s=8, bare_runs=20,
                    closed_loop_users=(1, 2), closed_loop_duration_s=4, quick=True)
FULL = SuiteConfig()


def run(out: str | os.PathLike[str], home: str | os.PathLike[str] | None = None,
        quick: bool = False, parts: tuple[str, ...] = PARTS,
        latency_threads: int | None = None) -> dict:
    """Run the chosen parts, write ``out``/results.json, report.md and charts; return results."""
    from tqdm import tqdm

    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown benchmark part(s) {sorted(unknown)}; choose from {PARTS}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    home = resolve_home(home).root
    config = QUICK if quick else FULL
    if latency_threads is not None:
        config = replace(config, latency_threads=latency_threads)
    started = time.perf_counter()
    results: dict = {}
    with ExitStack() as stack:
        server = None
        progress = tqdm(sorted(parts, key=PARTS.index), desc="benchmarks", unit="part")
        for part in progress:
            progress.set_postfix_str(part)
            if part in SERVER_PARTS and server is None:
                from benchmarks.load import local_server

                server = stack.enter_context(local_server(home))
            results[part] = RUNNERS[part](home, out, config, server)
    results["meta"] = meta(home, quick, config, round(time.perf_counter() - started, 1))
    return write_outputs(results, out)


def write_outputs(results: dict, out: Path) -> dict:
    """results.json, the charts and report.md; prints the tables."""
    results["targets"] = [row.as_dict() for row in report.target_rows(results)]
    charts = write_charts(results, out)
    if "attention" in results:
        charts += results["attention"]["charts"]
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    report.write_markdown(results, out / "report.md", charts)
    report.print_tables(results)
    return results


def _run_latency(home: Path, out: Path, config: SuiteConfig, server: LocalServer | None) -> dict:
    from benchmarks import latency

    exported_dir = resolve_home(home).exported_dir
    result = {"rows": []}
    for batch, runs, warmup in zip(config.latency_batches, config.latency_runs,
                                   config.latency_warmup, strict=True):
        part = latency.run(batches=(batch,), runs=runs, warmup=warmup,
                           threads=config.latency_threads, exported_dir=exported_dir)
        # Its rows already are the report's: variant, engine, batch, p50/p95/p99, windows/s...
        result = {**part, "rows": result["rows"] + part["rows"]}
    return result


def _run_http(home: Path, out: Path, config: SuiteConfig, server: LocalServer | None) -> dict:
    from benchmarks import http

    raw = http.run(home, variant=config.http_variant, n=config.http_requests,
                   bulk_batches=config.http_bulk_batches, bulk_runs=config.http_bulk_runs)
    return {"variant": config.http_variant, **http_rows(raw), "raw": raw}


HTTP_PATHS = {"predict": "predict",
              "predict_httpx": "predict (httpx client, body encoded per call)",
              "ingest": "ingest", "pipeline": "in-process pipeline",
              "ingest_in_process": "in-process ingest (fsync)",
              "onnxruntime": "bare onnxruntime"}  # benchmarks.http key: the report's name
HTTP_SUMMARY = ("overhead_ms", "server_ms", "hop_ms", "bulk_ratio")  # figures the report reads


def http_rows(raw: dict) -> dict:
    """The HTTP benchmark's output as ``rows`` (path, p50/p95/p99), the stage rows and the
    bulk rows, and its summary figures (overhead, server time, live-state hop, bulk ratios)."""
    stats = ("p50_ms", "p95_ms", "p99_ms")
    rows = [{"path": name, **{stat: raw[key][stat] for stat in stats}}
            for key, name in HTTP_PATHS.items()]
    rows += [{"path": f"stage: {name}", **{stat: value[stat] for stat in stats}}
             for name, value in raw["stages"].items()]
    return {"rows": rows, "bulk": raw["bulk_predict"], "bulk_ingest": raw["bulk_ingest"],
            **{key: raw[key] for key in HTTP_SUMMARY}}


def _run_attention(home: Path, out: Path, config: SuiteConfig, server: LocalServer | None) -> dict:
    from benchmarks import attention

    return attention.run(home, out, server_url=server.url if server else None,
                         windows_per_symbol=config.attention_windows)


def _run_features(home: Path, out: Path, config: SuiteConfig, server: LocalServer | None) -> dict:
    from benchmarks import features

    return features.run(out / "features.json", quick=config.quick)


def _run_load(home: Path, out: Path, config: SuiteConfig, server: LocalServer | None) -> dict:
    from benchmarks import load

    bare = load.bare_models(home, config.bare_runs)  # every variant's bare latency, this run
    runs = [load.LoadConfig(users=users, duration_s=config.load_duration_s)
            for users in config.load_users]
    runs += [load.LoadConfig(users=users, duration_s=config.closed_loop_duration_s,
                             scenario="predict") for users in config.closed_loop_users]
    results = {}
    for run in runs:
        name = f"{'predict-only ' if run.scenario == 'predict' else ''}{run.users} users"
        results[name] = {**load.run(home, out, run, server=server), "bare": bare[run.variant],
                         "bare_by_variant": bare}
    return results


RUNNERS = {"latency": _run_latency, "http": _run_http, "attention": _run_attention,
           "features": _run_features, "load": _run_load}


def meta(home: Path | None, quick: bool, config, duration_s: float) -> dict:
    """When, where and with which sizes the benchmarks ran."""
    import onnxruntime
    import torch

    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.system()}, "
                   f"Python {platform.python_version()}, torch {torch.__version__}, "
                   f"onnxruntime {onnxruntime.__version__}",
        "home": str(home),
        # Other work on the machine skews every timing: the load average says how much.
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "quick": quick,
        "config": asdict(config),
        "duration_s": duration_s,
    }
