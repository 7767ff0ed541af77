"""Model latency against its compute floor: PyTorch eager and onnxruntime, same run, interleaved.

For every variant the freshly initialised model is exported to a temporary ONNX file (or the
home's exported graph is used); then, per batch size, each timed round calls torch once and
onnxruntime once, so both see the same load from whatever else runs on the machine. Both use
the same number of threads (2 by default, the machine's cores).

In the same run ``benchmarks.floor`` measures onnxruntime's own MatMul GFLOP/s on one thread and
on every core, and counts each graph's matmul FLOPs, so every latency is also printed as a
multiple of its floor (FLOPs / GFLOP/s at the row's threads and, for the done-when figure, at
every core). Latency depends on the shapes and the graph, not on the weights' values.

Each (variant, batch) cell times at most ``runs`` calls and stops after ``budget_s`` seconds
once ``MIN_RUNS`` are in, so the defaults finish in about three minutes; a line is printed
(and flushed) after every cell, whether or not stdout is a terminal.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.floor import matmul_flops, matmul_rate
from benchmarks.report import batch_ratios
from training.export import (
    ExportConfig,
    example_inputs,
    input_names,
    ort_session,
    torch_threads,
    write_onnx,
)
from training.models import VARIANTS, build_model

WARMUP = 5  # untimed calls per engine before timing (allocations, thread pools, caches)
MIN_RUNS = 5  # timed calls per cell even past the time budget
DEFAULT_VARIANTS = ("simplex", "hybrid", "ensemble", "full")


def log(message: str) -> None:
    """Progress on stdout, flushed at once: a pipe or a CI log sees it as it happens."""
    print(message, flush=True)


def percentiles(seconds: list[float], batch: int) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    p50 = float(np.percentile(ms, 50))
    return {
        "p50_ms": round(p50, 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "windows_per_s": round(batch * 1e3 / p50, 1),
    }


def time_cell(model, session, batch: int, *, runs: int, budget_s: float, warmup: int,
              engines: tuple[str, ...]) -> dict[str, list[float]]:
    """Seconds per call for each engine at ``batch``, the engines interleaved call by call."""
    inputs = example_inputs(model, batch, seed=batch)
    feeds = {name: t.numpy() for name, t in zip(input_names(model), inputs, strict=True)}
    calls = {"torch": lambda: model(*inputs), "onnxruntime": lambda: session.run(None, feeds)}
    timings: dict[str, list[float]] = {engine: [] for engine in engines}
    with torch.inference_mode():
        # Large batches warm up in fewer calls (each is long and already reuses the arena).
        for _ in range(warmup if batch <= 8 else min(warmup, 2)):
            for engine in engines:
                calls[engine]()
        deadline = time.perf_counter() + budget_s
        for call in range(runs):
            if call >= min(MIN_RUNS, runs) and time.perf_counter() > deadline:
                break
            for engine in engines:
                started = time.perf_counter()
                calls[engine]()
                timings[engine].append(time.perf_counter() - started)
    return timings


def floor_fields(flops: float, batch: int, p50_ms: float, threads: int,
                 rates: dict[int, float]) -> dict[str, float]:
    """The row's floor at its threads and at every core, and p50 as a multiple of each."""
    all_cores = max(rates)
    floor_ms = flops * batch / (rates[threads] * 1e6)
    floor_all_ms = flops * batch / (rates[all_cores] * 1e6)
    return {"mflops_per_window": round(flops / 1e6, 2), "floor_ms": round(floor_ms, 3),
            "x_floor": round(p50_ms / floor_ms, 2),
            "x_floor_all_cores": round(p50_ms / floor_all_ms, 2)}


def time_variant(variant: str, n_features: int, batches, runs: int, threads: int, *,
                 rates: dict[int, float], graph: Path | None = None, warmup: int = WARMUP,
                 budget_s: float = 4.0, engines: tuple[str, ...] = ("torch", "onnxruntime"),
                 ) -> list[dict]:
    """Rows (one per engine and batch) for one variant.

    ``graph``: an already exported ``model.onnx`` of this variant and width, timed instead of a
    fresh export (the suite times the home's models without exporting them again).
    """
    model = build_model(variant, n_features).eval()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = graph or Path(folder) / "model.onnx"
        if graph is None:
            write_onnx(model, path, ExportConfig())
        flops = matmul_flops(path, batch=1)
        session = ort_session(path, threads=threads)
        for batch in batches:
            timings = time_cell(model, session, batch, runs=runs, budget_s=budget_s,
                                warmup=warmup, engines=engines)
            for engine, seconds in timings.items():
                row = {"variant": variant, "engine": engine, "batch": batch,
                       "runs": len(seconds), **percentiles(seconds, batch), "threads": threads}
                row.update(floor_fields(flops, batch, row["p50_ms"], threads, rates))
                rows.append(row)
                log(f"latency: {variant:<8} {engine:<11} batch {batch:>3}: p50 "
                    f"{row['p50_ms']:8.2f} ms, p99 {row['p99_ms']:8.2f} ms, "
                    f"{row['x_floor']:5.2f}x floor ({len(seconds)} runs)")
    return rows


def measure_rates(threads: int) -> dict[int, float]:
    """onnxruntime MatMul GFLOP/s on 1 thread, ``threads`` threads and every core."""
    counts = sorted({1, threads, os.cpu_count() or 1})
    return {count: round(matmul_rate(count), 1) for count in counts}


def exported_graphs(exported_dir: str | os.PathLike[str]) -> dict[str, tuple[Path, int]]:
    """Variant -> (model.onnx, input width) for the versions the manifest names."""
    from contract.artifacts import METADATA_FILE, MODEL_FILE, manifest_folders

    graphs = {}
    for variant, folder in manifest_folders(Path(exported_dir)).items():
        metadata = json.loads((folder / METADATA_FILE).read_text())
        graphs[variant] = (folder / MODEL_FILE, len(metadata["feature_names"]))
    return graphs


def print_table(result: dict) -> None:
    rates = result["meta"]["matmul_gflops"]
    log("onnxruntime MatMul GFLOP/s: " + ", ".join(f"{t} thread(s) {r}" for t, r in
                                                   rates.items()))
    log(f"{'variant':<9} {'engine':<12} {'batch':>5} {'p50 ms':>9} {'p99 ms':>9} "
        f"{'win/s':>9} {'MFLOP':>8} {'x floor':>8} {'x all':>6}")
    for r in result["rows"]:
        log(f"{r['variant']:<9} {r['engine']:<12} {r['batch']:>5} {r['p50_ms']:>9.2f} "
            f"{r['p99_ms']:>9.2f} {r['windows_per_s']:>9.1f} {r['mflops_per_window']:>8.1f} "
            f"{r['x_floor']:>8.2f} {r['x_floor_all_cores']:>6.2f}")
    for ratio in result["batch_ratios"]:
        log(f"{ratio['variant']:<9} {ratio['engine']:<12} per window at batch {ratio['batch']}"
            f" / batch 1: {ratio['ratio']:.2f}")


def run(
    out: str | os.PathLike[str] | None = None,
    variants: tuple[str, ...] = DEFAULT_VARIANTS,
    batches: tuple[int, ...] = (1, 32),
    runs: int = 200,
    threads: int = 2,
    n_features: int | None = None,
    exported_dir: str | os.PathLike[str] | None = None,
    warmup: int = WARMUP,
    budget_s: float = 4.0,
) -> dict[str, Any]:
    """Time every variant at every batch size; print a table, write JSON to ``out`` if given.

    With ``exported_dir``, the manifest's graphs there are timed instead of fresh exports.
    """
    from training.export import default_feature_names

    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise KeyError(f"unknown model variant(s) {unknown}; known: {sorted(VARIANTS)}")
    started = time.perf_counter()
    width = n_features or len(default_feature_names())
    graphs = exported_graphs(exported_dir) if exported_dir is not None else {}
    load_before = os.getloadavg()[0]  # other processes' demand: read next to the numbers
    log(f"latency: {len(variants)} variants x batches {list(batches)}, {threads} thread(s), "
        f"up to {runs} runs or {budget_s:g} s per cell")
    rates_before = measure_rates(threads)
    log(f"latency: MatMul GFLOP/s {rates_before} (measured again at the end)")
    rows: list[dict] = []
    with torch_threads(threads):
        for variant in variants:
            graph, graph_width = graphs.get(variant, (None, width))
            rows.extend(time_variant(variant, graph_width, batches, runs, threads,
                                     rates=rates_before, graph=graph, warmup=warmup,
                                     budget_s=budget_s))
    rates_after = measure_rates(threads)
    # The floor is what the cores can do: the better of the two probes (load only slows them).
    rates = {count: max(rate, rates_after[count]) for count, rate in rates_before.items()}
    for row in rows:
        row.update(floor_fields(row["mflops_per_window"] * 1e6, row["batch"], row["p50_ms"],
                                row["threads"], rates))
    import onnxruntime

    result = {
        "rows": rows,
        "batch_ratios": batch_ratios(rows),
        "meta": {
            "threads": threads,
            "cpu_count": os.cpu_count(),
            "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "n_features": width,
            "warmup": warmup,
            "budget_s": budget_s,
            "matmul_gflops": rates,
            "matmul_gflops_probes": {"start": rates_before, "end": rates_after},
            "flops_counted_from": "the ONNX graph's MatMul/Gemm nodes, shapes from one run",
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "interleaved": True,
            "duration_s": round(time.perf_counter() - started, 1),
        },
    }
    print_table(result)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2))
    sys.stdout.flush()
    return result
