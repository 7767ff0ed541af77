"""Model latency: PyTorch eager against onnxruntime, same inputs, same process, interleaved.

For every variant the freshly initialised model is exported to a temporary ONNX file; then, per
batch size, each timed round calls torch once and onnxruntime once, so both see the same load
from whatever else runs on the machine. Both use the same number of threads (2 by default, the
machine's cores). Latency depends on the shapes and the graph, not on the weights' values.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from training.export import (
    ExportConfig,
    example_inputs,
    input_names,
    ort_session,
    torch_threads,
    write_onnx,
)
from training.models import VARIANTS, build_model

WARMUP = 20  # untimed calls per engine before timing (allocations, thread pools, caches)


def percentiles(seconds: list[float], batch: int) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    p50 = float(np.percentile(ms, 50))
    return {
        "p50_ms": round(p50, 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "windows_per_s": round(batch * 1e3 / p50, 1),
    }


def time_variant(
    variant: str,
    n_features: int,
    batches,
    runs: int,
    threads: int,
    graph: Path | None = None,
    warmup: int = WARMUP,
) -> list[dict]:
    """Rows (one per engine and batch) for one variant, torch and onnxruntime interleaved.

    ``graph``: an already exported ``model.onnx`` of this variant and width, timed instead of a
    fresh export (the suite times the home's models without exporting them again).
    """
    model = build_model(variant, n_features).eval()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = graph or Path(folder) / "model.onnx"
        if graph is None:
            write_onnx(model, path, ExportConfig())
        session = ort_session(path, threads=threads)
        for batch in batches:
            inputs = example_inputs(model, batch, seed=batch)
            feeds = {name: t.numpy() for name, t in zip(input_names(model), inputs, strict=True)}
            timings: dict[str, list[float]] = {"torch": [], "onnxruntime": []}
            with torch.inference_mode():
                for call in range(warmup + runs):
                    started = time.perf_counter()
                    model(*inputs)
                    middle = time.perf_counter()
                    session.run(None, feeds)
                    ended = time.perf_counter()
                    if call >= warmup:
                        timings["torch"].append(middle - started)
                        timings["onnxruntime"].append(ended - middle)
            for engine, seconds in timings.items():
                row = {"variant": variant, "engine": engine, "batch": batch, "runs": runs}
                rows.append({**row, **percentiles(seconds, batch), "threads": threads})
    return rows


def exported_graphs(exported_dir: str | os.PathLike[str]) -> dict[str, tuple[Path, int]]:
    """Variant -> (model.onnx, input width) for the versions the manifest names."""
    from serving.registry import read_manifest

    graphs = {}
    for variant, folder in read_manifest(Path(exported_dir)).items():
        metadata = json.loads((folder / "metadata.json").read_text())
        graphs[variant] = (folder / "model.onnx", len(metadata["feature_names"]))
    return graphs


def print_table(rows: list[dict]) -> None:
    print(f"{'variant':<9} {'engine':<12} {'batch':>5} {'p50 ms':>9} {'p99 ms':>9} {'win/s':>9}")
    for r in rows:
        print(
            f"{r['variant']:<9} {r['engine']:<12} {r['batch']:>5} {r['p50_ms']:>9.2f} "
            f"{r['p99_ms']:>9.2f} {r['windows_per_s']:>9.1f}"
        )


def run(
    out: str | os.PathLike[str] | None = None,
    variants: tuple[str, ...] = ("simplex", "hybrid", "ensemble", "full"),
    batches: tuple[int, ...] = (1, 32),
    runs: int = 200,
    threads: int = 2,
    n_features: int | None = None,
    exported_dir: str | os.PathLike[str] | None = None,
    warmup: int = WARMUP,
) -> dict[str, Any]:
    """Time every variant at every batch size; print a table, write JSON to ``out`` if given.

    With ``exported_dir``, the manifest's graphs there are timed instead of fresh exports.
    """
    from training.export import default_feature_names

    width = n_features or len(default_feature_names())
    graphs = exported_graphs(exported_dir) if exported_dir is not None else {}
    load_before = os.getloadavg()[0]  # other processes' demand: read next to the numbers
    rows: list[dict] = []
    with torch_threads(threads):
        for variant in tqdm(variants, desc="latency", unit="variant"):
            if variant not in VARIANTS:
                raise KeyError(f"unknown model variant {variant!r}")
            graph, graph_width = graphs.get(variant, (None, width))
            rows.extend(time_variant(variant, graph_width, batches, runs, threads, graph, warmup))
    import onnxruntime

    result = {
        "rows": rows,
        "meta": {
            "threads": threads,
            "cpu_count": os.cpu_count(),
            "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "n_features": width,
            "warmup": warmup,
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "interleaved": True,
        },
    }
    print_table(rows)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2))
    return result
