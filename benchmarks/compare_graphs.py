"""Two exports of each variant timed side by side: how much faster a change made the graphs.

``python -m benchmarks.compare_graphs --before HOME_A --after HOME_B [--threads 1]`` loads
each variant's current graph from both homes (as the service does: `configure_session`, the
given intra-op threads) and times them in turn on the same random windows, batch 1 and 32,
so both see the same machine; it prints and returns each p50 and the after / before ratio.
Speed does not depend on the weights, so untrained exports compare as well as trained ones.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from contract.artifacts import configure_session, manifest_folders
from contract.model import FEATURES_INPUT, POSITION_INPUT

BATCHES = (1, 32)
SECONDS = 4.0  # timing per variant and batch, both graphs in turn


def session(folder: Path, threads: int) -> ort.InferenceSession:
    options = configure_session(ort.SessionOptions(), threads)
    return ort.InferenceSession(str(folder / "model.onnx"), options,
                                providers=["CPUExecutionProvider"])


def feeds(graph: ort.InferenceSession, batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    shapes = {item.name: item.shape for item in graph.get_inputs()}
    values = {FEATURES_INPUT: rng.standard_normal(
        (batch, *shapes[FEATURES_INPUT][1:])).astype(np.float32)}
    if POSITION_INPUT in shapes:
        values[POSITION_INPUT] = np.zeros((batch, shapes[POSITION_INPUT][-1]), np.float32)
    return values


def compare(before: Path, after: Path, threads: int = 1, seconds: float = SECONDS) -> list[dict]:
    """p50 of each variant's graph from both homes, timed in turn, and after / before."""
    old = manifest_folders(Path(before) / "exported_models")
    new = manifest_folders(Path(after) / "exported_models")
    rows = []
    for variant in sorted(set(old) & set(new)):
        graphs = {"before": session(old[variant], threads), "after": session(new[variant],
                                                                              threads)}
        for batch in BATCHES:
            inputs = {name: feeds(graph, batch) for name, graph in graphs.items()}
            for name, graph in graphs.items():  # first runs: allocations
                graph.run(None, inputs[name])
            timings: dict[str, list[float]] = {name: [] for name in graphs}
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline or len(timings["after"]) < 5:
                for name, graph in graphs.items():
                    started = time.perf_counter()
                    graph.run(None, inputs[name])
                    timings[name].append(time.perf_counter() - started)
            p50 = {name: float(np.median(values)) * 1e3 for name, values in timings.items()}
            row = {"variant": variant, "batch": batch, "threads": threads,
                   "before_p50_ms": round(p50["before"], 3), "after_p50_ms": round(p50["after"], 3),
                   "after_vs_before": round(p50["after"] / p50["before"], 3),
                   "runs": len(timings["after"])}
            print(f"{variant:9s} batch {batch:3d}: before {row['before_p50_ms']:8.2f} ms, after "
                  f"{row['after_p50_ms']:8.2f} ms, after / before {row['after_vs_before']:.2f}",
                  flush=True)
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="home of the old exports")
    parser.add_argument("--after", type=Path, required=True, help="home of the new exports")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="also write the rows here (JSON)")
    args = parser.parse_args()
    rows = compare(args.before, args.after, args.threads)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
