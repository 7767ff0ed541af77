"""The benchmark report's charts: latency, throughput, HTTP, load, memory and soak drift as PNGs.

Like ``benchmarks.report``, it reads only the suite's ``results`` dict (see that module's docstring
for its layout) and returns the names of the files it wrote.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.report import INFERENCE_TARGET_MS, ORT_P99_TARGETS_MS, latency_of, load_table


def write_charts(results: dict, out: Path) -> list[str]:
    """Latency, throughput, HTTP and load charts as PNGs; returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    written = []
    for name, draw in (("latency.png", _latency_chart), ("throughput.png", _throughput_chart),
                       ("http.png", _http_chart), ("load.png", _load_chart),
                       ("load_memory.png", _memory_chart), ("soak_p99.png", _drift_chart)):
        if draw(results, out / name):
            written.append(name)
    return written


def _latency_chart(results: dict, path: Path) -> bool:
    import matplotlib.pyplot as plt

    variants = list(dict.fromkeys(r["variant"] for r in results.get("latency", {}).get("rows", [])))
    if not variants:
        return False
    figure, axis = plt.subplots(figsize=(8, 4.5))
    width = 0.38
    for offset, engine in ((-width / 2, "torch"), (width / 2, "onnxruntime")):
        p50 = [latency_of(results, v, engine, 1, "p50_ms") or 0 for v in variants]
        p99 = [latency_of(results, v, engine, 1, "p99_ms") or 0 for v in variants]
        positions = [i + offset for i in range(len(variants))]
        bars = axis.bar(positions, p99, width, alpha=0.45, label=f"{engine} p99")
        axis.bar(positions, p50, width, color=bars.patches[0].get_facecolor()[:3],
                 label=f"{engine} p50")
    for i, variant in enumerate(variants):
        limit = ORT_P99_TARGETS_MS.get(variant)
        if limit:
            axis.hlines(limit, i - 0.45, i + 0.45, colors="black", linestyles="--")
    axis.axhline(INFERENCE_TARGET_MS, color="grey", linestyle=":", label="30 ms target")
    axis.set_xticks(range(len(variants)), variants)
    axis.set_ylabel("ms per call, batch 1")
    axis.set_title("Model latency, batch 1 (dashed: onnxruntime p99 target)")
    axis.legend(fontsize=8)
    return _save(figure, path)


def _throughput_chart(results: dict, path: Path) -> bool:
    import matplotlib.pyplot as plt

    rows = results.get("latency", {}).get("rows", [])
    if not rows:
        return False
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for index, variant in enumerate(dict.fromkeys(r["variant"] for r in rows)):
        for engine, style in (("onnxruntime", "-o"), ("torch", "--x")):
            points = sorted((r["batch"], r["windows_per_s"]) for r in rows
                            if r["variant"] == variant and r["engine"] == engine)
            if points:
                axis.plot(*zip(*points, strict=True), style, color=f"C{index}",
                          label=f"{variant} {engine}")
    axis.set_xscale("log", base=2)
    axis.set_yscale("log")
    axis.set_xlabel("batch size")
    axis.set_ylabel("windows per second")
    axis.set_title("Throughput")
    axis.legend(fontsize=7, ncol=2)
    return _save(figure, path)


def _http_chart(results: dict, path: Path) -> bool:
    rows = results.get("http", {}).get("rows", [])
    if not rows:
        return False
    title = f"HTTP path ({results['http'].get('variant', 'hybrid')}) vs bare onnxruntime"
    return _percentile_chart([r["path"] for r in rows],
                             [(r["p50_ms"], r["p95_ms"], r["p99_ms"]) for r in rows],
                             title, path, target=(10.0, "predict p99 target"))


def _load_chart(results: dict, path: Path) -> bool:
    _, rows = load_table(results)
    if not rows:
        return False
    return _percentile_chart([f"{run}\n{endpoint}" for run, endpoint, *_ in rows],
                             [tuple(row[5:8]) for row in rows],
                             "Locust load: latency per endpoint", path)


def _percentile_chart(labels: list[str], percentiles: list[tuple], title: str, path: Path,
                      target: tuple[float, str] | None = None) -> bool:
    """Grouped bars: p50, p95 and p99 in ms for each label."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(max(7, 0.9 * len(labels)), 4.5))
    width = 0.27
    for k, name in enumerate(("p50", "p95", "p99")):
        axis.bar([i + (k - 1) * width for i in range(len(labels))],
                 [values[k] or 0 for values in percentiles], width, label=name)
    if target is not None:
        axis.axhline(target[0], color="black", linestyle="--", label=target[1])
    axis.set_xticks(range(len(labels)), labels, fontsize=7)
    axis.set_ylabel("ms")
    axis.set_title(title)
    axis.legend(fontsize=8)
    return _save(figure, path)


def _memory_chart(results: dict, path: Path) -> bool:
    import matplotlib.pyplot as plt

    runs = {name: load["memory"]["samples"] for name, load in results.get("load", {}).items()
            if load.get("memory")}
    if not runs:
        return False
    figure, axis = plt.subplots(figsize=(7, 4))
    for name, samples in runs.items():
        axis.plot(*zip(*samples, strict=True), label=name)
    axis.set_xlabel("seconds into the run")
    axis.set_ylabel("server resident memory, MiB")
    axis.set_title("Server memory under load")
    axis.legend(fontsize=8)
    return _save(figure, path)


def _drift_chart(results: dict, path: Path) -> bool:
    import matplotlib.pyplot as plt

    runs = {name: load["drift"] for name, load in results.get("load", {}).items()
            if load.get("drift")}
    if not runs:
        return False
    figure, axis = plt.subplots(figsize=(7, 4))
    for name, drift in runs.items():
        axis.plot(*zip(*drift["p99_by_window"], strict=True), "-o", label=name)
    axis.set_xlabel("seconds into the run (start of each window)")
    axis.set_ylabel("p99 ms")
    axis.set_title("Soak: p99 per window")
    axis.legend(fontsize=8)
    return _save(figure, path)


def _save(figure, path: Path) -> bool:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
