"""Where a variant's batch-1 time goes inside onnxruntime: its own profiler, by op type and block.

``python -m benchmarks.opprofile --home DIR [--runs 50] [--out FILE.json]`` loads each exported
variant as the service does (one intra-op thread), runs ``runs`` batch-1 windows with
onnxruntime's profiler on, and folds the profile's kernel events into

- ``op_types``: time per run and share of each op type (MatMul, Sigmoid, Mul, ...), with how
  many kernels of that type one run executes;
- ``blocks``: the same per model block, named by the first parts of the node's path in the
  exported graph (``/xlstm/blocks.0``, ``/transformer/layers.1``, ``/heads``...);
- ``kernels_per_run`` and ``kernel_ms_per_run`` (the sum of kernel times: the rest of a run's
  wall time is onnxruntime's own scheduling between kernels).

The timings are as noisy as the machine; the shares and counts are what to read.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

BLOCK_DEPTH = 2  # path parts of a node name that name its block: /xlstm/blocks.0/...
TOP = 8  # rows printed per table


def block_of(node_name: str) -> str:
    """``/xlstm/blocks.0/slstm/Mul_3`` -> ``/xlstm/blocks.0``; unnamed paths -> ``(graph)``."""
    parts = [part for part in node_name.split("/") if part][:-1]
    return "/" + "/".join(parts[:BLOCK_DEPTH]) if parts else "(graph)"


def fold(events: list[dict], runs: int) -> dict:
    """Kernel events of ``runs`` runs -> per-run time and count by op type and by block."""
    by_type: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    by_block: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time"):
            continue
        duration_ms = event["dur"] / 1e3
        for key, table in ((event["args"]["op_name"], by_type),
                           (block_of(event["name"][: -len("_kernel_time")]), by_block)):
            table[key][0] += duration_ms
            table[key][1] += 1
    total = sum(ms for ms, _ in by_type.values())

    def rows(table: dict[str, list[float]]) -> list[dict]:
        ordered = sorted(table.items(), key=lambda item: -item[1][0])
        return [{"name": name, "ms_per_run": round(ms / runs, 4),
                 "share": round(ms / total, 4), "kernels_per_run": round(count / runs, 1)}
                for name, (ms, count) in ordered]

    return {"kernel_ms_per_run": round(total / runs, 4),
            "kernels_per_run": round(sum(c for _, c in by_type.values()) / runs, 1),
            "op_types": rows(by_type), "blocks": rows(by_block)}


def profile_variant(folder: Path, runs: int, threads: int = 1) -> dict:
    """Profile ``runs`` batch-1 runs of the exported model in ``folder``."""
    import onnxruntime as ort

    from contract.model import FEATURES_INPUT, POSITION_INPUT

    metadata = json.loads((folder / "metadata.json").read_text())
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as scratch:
        options.profile_file_prefix = os.path.join(scratch, "profile")
        session = ort.InferenceSession(str(folder / "model.onnx"), options,
                                       providers=["CPUExecutionProvider"])
        inputs = {i.name: i.shape for i in session.get_inputs()}
        rng = np.random.default_rng(0)
        window, width = int(metadata["window"]), len(metadata["feature_names"])
        feeds = {FEATURES_INPUT: rng.standard_normal((1, window, width)).astype(np.float32)}
        if POSITION_INPUT in inputs:
            feeds[POSITION_INPUT] = np.zeros((1, int(inputs[POSITION_INPUT][-1])), np.float32)
        session.run(None, feeds)  # the first run allocates; it is profiled but dropped below
        first_events = len(json.loads(Path(session.end_profiling()).read_text()))
        session = ort.InferenceSession(str(folder / "model.onnx"), options,
                                       providers=["CPUExecutionProvider"])
        session.run(None, feeds)
        for _ in range(runs):
            session.run(None, feeds)
        events = json.loads(Path(session.end_profiling()).read_text())
    return fold(events[first_events:], runs)


def run(home: str | os.PathLike[str] | None, runs: int = 50,
        out: str | os.PathLike[str] | None = None) -> dict:
    """Every variant of the home's manifest, profiled; written to ``out`` when given."""
    from contract.artifacts import manifest_folders
    from contract.home import resolve_home

    exported = resolve_home(home).exported_dir
    results = {variant: profile_variant(folder, runs)
               for variant, folder in sorted(manifest_folders(exported).items())}
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2))
    return results


def print_report(results: dict) -> None:
    for variant, result in results.items():
        print(f"\n{variant}: {result['kernels_per_run']:.0f} kernels, "
              f"{result['kernel_ms_per_run']:.2f} ms of kernel time per batch-1 run")
        for title in ("op_types", "blocks"):
            print(f"  by {title[:-1].replace('_', ' ')}:")
            for row in result[title][:TOP]:
                print(f"    {row['name']:<34} {row['ms_per_run']:7.3f} ms  "
                      f"{100 * row['share']:5.1f} %  {row['kernels_per_run']:6.0f} kernels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=None)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    print_report(run(args.home, args.runs, args.out))


if __name__ == "__main__":
    main()
