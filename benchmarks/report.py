"""The benchmark report: every figure next to its target, as markdown, a console table and PNGs.

Everything here reads the suite's ``results`` dict (what ``results.json`` holds) and writes
nothing else. The parts' own outputs are first folded into plain rows by ``benchmarks.suite``:

- ``results["latency"]["rows"]``: ``variant``, ``engine``, ``batch``, ``p50_ms``, ``p95_ms``,
  ``p99_ms``, ``windows_per_s``, ``threads`` (one row per variant, engine and batch size);
- ``results["http"]["rows"]``: ``path``, ``p50_ms``, ``p95_ms``, ``p99_ms`` and
  ``results["http"]["overhead_ms"]``;
- ``results["attention"]["checks"]``: ``variant``, ``path``, ``check``, ``passed``, ``detail``;
- ``results["features"]``: the feature benchmark's own dict of numbers;
- ``results["load"]``: one ``benchmarks.load.run`` summary per run, by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.locust_stats import variant_name

# Issue 5: onnxruntime, batch 1, p99 on this 2-core machine.
ORT_P99_TARGETS_MS = {"simplex": 5.0, "hybrid": 7.0, "ensemble": 9.0, "full": 25.0}
INFERENCE_TARGET_MS = 30.0  # the 20-30 ms inference target: its upper edge, batch 1, p99
FLOOR_TARGET_X = 1.5  # issue 17: batch-1 onnxruntime p50 <= 1.5x the all-core matmul floor
BATCH_RATIO_TARGET = 0.5  # issue 17: per-window cost at batch 32 <= 0.5x batch 1


@dataclass(frozen=True)
class TargetRow:
    name: str  # what is measured
    measured: float | None  # None when the part did not run
    limit: float  # the bound
    unit: str  # "ms", "us", "x" or "" for counts
    source: str  # where the target was set
    higher_is_better: bool = False  # True for speed-ups

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        if self.higher_is_better:
            return self.measured >= self.limit
        return self.measured <= self.limit

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: "not run"}[self.met]

    @property
    def bound(self) -> str:
        return f"{'≥' if self.higher_is_better else '≤'} {self.limit:g} {self.unit}".strip()

    def as_dict(self) -> dict:
        return {"name": self.name, "measured": self.measured, "target": self.bound,
                "unit": self.unit, "source": self.source, "met": self.met}


def latency_of(results: dict, variant: str, engine: str, batch: int, stat: str) -> float | None:
    for row in results.get("latency", {}).get("rows", []):
        if (row["variant"], row["engine"], row["batch"]) == (variant, engine, batch):
            return row[stat]
    return None


def batch_ratios(rows: list[dict]) -> list[dict]:
    """Per variant and engine: per-window p50 at the largest batch / p50 at batch 1."""
    ratios = []
    for row in rows:
        if row["batch"] != 1:
            continue
        same = [r for r in rows if (r["variant"], r["engine"], r["threads"]) ==
                (row["variant"], row["engine"], row["threads"])]
        largest = max(same, key=lambda r: r["batch"])
        if largest["batch"] > 1:
            per_window = largest["p50_ms"] / largest["batch"]
            ratios.append({"variant": row["variant"], "engine": row["engine"],
                           "threads": row["threads"], "batch": largest["batch"],
                           "ratio": round(per_window / row["p50_ms"], 3)})
    return ratios


def target_rows(results: dict) -> list[TargetRow]:
    """Every target the issues set for the parts that ran, with this run's measurement."""
    return [row for part, targets in TARGETS.items() if part in results
            for row in targets(results)]


def _latency_targets(results: dict) -> list[TargetRow]:
    rows = []
    for variant, limit in ORT_P99_TARGETS_MS.items():
        ort_p99 = latency_of(results, variant, "onnxruntime", 1, "p99_ms")
        torch_p99 = latency_of(results, variant, "torch", 1, "p99_ms")
        speedup = round(torch_p99 / ort_p99, 2) if ort_p99 and torch_p99 else None
        rows += [
            TargetRow(f"{variant}: onnxruntime p99, batch 1", ort_p99, limit, "ms", "issue 5"),
            TargetRow(f"{variant}: torch eager p99 / onnxruntime p99, batch 1", speedup, 1.0,
                      "x", "issue 5", higher_is_better=True),
            TargetRow(f"{variant}: inference p99, batch 1 (20-30 ms target)", ort_p99,
                      INFERENCE_TARGET_MS, "ms", "inference target"),
            TargetRow(f"{variant}: onnxruntime p50 / all-core matmul floor, batch 1",
                      latency_of(results, variant, "onnxruntime", 1, "x_floor_all_cores"),
                      FLOOR_TARGET_X, "x", "issue 17"),
        ]
    rows += [TargetRow(f"{r['variant']}: onnxruntime per window, batch {r['batch']} / batch 1",
                       r["ratio"], BATCH_RATIO_TARGET, "x", "issue 17")
             for r in batch_ratios(results.get("latency", {}).get("rows", []))
             if r["engine"] == "onnxruntime"]
    return rows


def _http_targets(results: dict) -> list[TargetRow]:
    http = results["http"]
    p99 = {row["path"]: row["p99_ms"] for row in http.get("rows", [])}
    variant = http.get("variant", "hybrid")
    return [
        TargetRow(f"{variant}: predict over HTTP, p99", p99.get("predict"), 10.0, "ms", "issue 7"),
        TargetRow(f"{variant}: ingest over HTTP, p99", p99.get("ingest"), 12.0, "ms", "issue 7"),
        TargetRow("HTTP framework overhead (predict p50 - in-process pipeline p50)",
                  http.get("overhead_ms"), 2.0, "ms", "issues 7, 17"),
        *[TargetRow(f"{variant}: predict_many per-window p50, batch 32 / batch 1", ratio,
                    0.5, "x", "issue 17") for variant, ratio in http.get("bulk_ratio", {}).items()],
    ]


def _features_targets(results: dict) -> list[TargetRow]:
    features = results["features"]
    ours, talib = features.get("batch_ms_20y_ours"), features.get("batch_ms_20y_talib")
    return [
        TargetRow("features: streaming update per symbol, 500 symbols",
                  features.get("stream_us_per_symbol_500_symbols"), 1.0, "us", "issue 4"),
        TargetRow("features: streaming update per bar, 1 symbol",
                  features.get("stream_us_per_bar_1_symbol"), 20.0, "us", "issue 4"),
        TargetRow("features: speed-up vs recomputing 300 bars with ta",
                  features.get("speedup_vs_recompute"), 100.0, "x", "issue 4",
                  higher_is_better=True),
        TargetRow("features: batch build time / TA-Lib's",
                  round(ours / talib, 2) if ours and talib else None, 3.0, "x", "issue 4"),
    ]


def _attention_targets(results: dict) -> list[TargetRow]:
    checks = results["attention"].get("checks", [])
    failed = sum(not check["passed"] for check in checks) if checks else None
    return [TargetRow(f"attention checks failed (of {len(checks)})", failed, 0, "", "issue 9")]


def _load_targets(results: dict) -> list[TargetRow]:
    rows = []
    loads = results["load"]
    single = next((load for load in loads.values() if is_closed_loop(load)
                   and load["config"]["users"] == 1), None)
    for name, load in loads.items():
        total = load["endpoints"].get("Aggregated", {})
        steady = load.get("steady", {})
        rows.append(TargetRow(f"locust {name}: failed requests (of {total.get('requests', 0)})",
                              total.get("failures"), 0, "", "issue 9"))
        bare = load.get("bare") or {}
        if is_closed_loop(load) and load["config"]["users"] > 1 and bare:
            share = round(total["rps"] / bare["capacity_rps"], 3)
            rows.append(TargetRow(f"locust {name}: RPS / capacity (cores / bare p50)", share,
                                  0.6, "x", "issue 17", higher_is_better=True))
            if single:
                ratio = round(total["p99_ms"] / single["endpoints"]["Aggregated"]["p99_ms"], 2)
                rows.append(TargetRow(f"locust {name}: p99 / 1-user p99", ratio, 3.0, "x",
                                      "issue 17"))
            if single and steady and single.get("steady"):
                ratio = round(steady["all"]["p99_ms"] / single["steady"]["all"]["p99_ms"], 2)
                rows.append(TargetRow(f"locust {name}, after ramp-up: p99 / 1-user p99", ratio,
                                      3.0, "x", "issue 17"))
        elif not is_closed_loop(load) and bare and total.get("p99_ms"):
            rows.append(TargetRow(f"locust {name}: p99 / bare hybrid p99",
                                  round(total["p99_ms"] / bare["p99_ms"], 2), 3.0, "x",
                                  "issue 17"))
            worst = worst_variant_ratio(steady, load.get("bare_by_variant") or {})
            if worst:
                rows.append(TargetRow(f"locust {name}, after ramp-up: worst predict p99 / that "
                                      f"variant's bare p99 ({worst[0]})", worst[1], 3.0, "x",
                                      "issue 17"))
        drift = load.get("drift")
        if drift:
            rows.append(TargetRow(f"locust {name}: p99 drift, first to last window",
                                  drift["drift_pct"], 20.0, "%", "issue 17"))
            rows.append(TargetRow(f"locust {name}: memory growth", load["memory"]["growth_pct"],
                                  5.0, "%", "issue 17"))
    return rows


def worst_variant_ratio(steady: dict[str, dict], bare: dict[str, dict]
                        ) -> tuple[str, float] | None:
    """The predict request name whose p99 is the largest multiple of its own variant's bare
    p99 (``predict [full]`` against bare `full`), and that multiple."""
    ratios = {}
    for name, stats in steady.items():
        variant = variant_name(name) if name.startswith("predict") else None
        if variant in bare and stats.get("p99_ms"):
            ratios[name] = round(stats["p99_ms"] / bare[variant]["p99_ms"], 2)
    return max(ratios.items(), key=lambda item: item[1]) if ratios else None


def is_closed_loop(load: dict) -> bool:
    return load.get("config", {}).get("scenario") == "predict"


TARGETS = {"latency": _latency_targets, "http": _http_targets, "features": _features_targets,
           "attention": _attention_targets, "load": _load_targets}


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def _target_table(results: dict) -> tuple[list[str], list[list]]:
    headers = ["figure", "measured", "target", "verdict", "source"]
    rows = [[t.name, t.measured, t.bound, t.verdict, t.source] for t in target_rows(results)]
    return headers, rows


def _latency_table(results: dict) -> tuple[list[str], list[list]]:
    headers = ["variant", "engine", "batch", "p50 ms", "p95 ms", "p99 ms", "windows/s", "threads",
               "runs", "MFLOP/window", "x floor", "x all-core floor"]
    latency = results.get("latency", {}).get("rows", [])
    variants = list(dict.fromkeys(r["variant"] for r in latency))
    latency = sorted(latency, key=lambda r: (variants.index(r["variant"]), r["batch"],
                                             r["engine"] != "torch", r["threads"]))
    rows = [[r["variant"], r["engine"], r["batch"], r["p50_ms"], r["p95_ms"], r["p99_ms"],
             r["windows_per_s"], r["threads"], r.get("runs"), r.get("mflops_per_window"),
             r.get("x_floor"), r.get("x_floor_all_cores")] for r in latency]
    return headers, rows


def _http_table(results: dict) -> tuple[list[str], list[list]]:
    headers = ["path", "p50 ms", "p95 ms", "p99 ms"]
    rows = [[r["path"], r["p50_ms"], r["p95_ms"], r["p99_ms"]]
            for r in results.get("http", {}).get("rows", [])]
    return headers, rows


def _attention_table(results: dict) -> tuple[list[str], list[list]]:
    headers = ["variant", "path", "check", "result", "detail"]
    rows = [[c["variant"], c["path"], c["check"], "pass" if c["passed"] else "FAIL", c["detail"]]
            for c in results.get("attention", {}).get("checks", [])]
    return headers, rows


def _features_table(results: dict) -> tuple[list[str], list[list]]:
    numbers = results.get("features", {})
    rows = [[name, value] for name, value in numbers.items()
            if isinstance(value, int | float) and not isinstance(value, bool)]
    return ["measure", "value"], rows


def load_table(results: dict) -> tuple[list[str], list[list]]:
    """Per endpoint, then per endpoint and variant (``predict [full]``), for every run."""
    headers = ["run", "endpoint", "requests", "failures", "RPS", "p50 ms", "p95 ms", "p99 ms"]
    rows = []
    for name, load in results.get("load", {}).items():
        variants = {k: v for k, v in load.get("names", {}).items() if "[" in k}
        for endpoint, stats in {**load["endpoints"], **variants}.items():
            rows.append([name, endpoint, stats["requests"], stats["failures"], stats["rps"],
                         stats["p50_ms"], stats["p95_ms"], stats["p99_ms"]])
    return headers, rows


SECTIONS = {
    "Targets": _target_table,
    "Model latency": _latency_table,
    "HTTP path": _http_table,
    "Attention": _attention_table,
    "Feature engine": _features_table,
    "Load": load_table,
}


def write_markdown(results: dict, path: Path, charts: list[str]) -> Path:
    meta = results["meta"]
    lines = [
        "# tradecast benchmark report", "",
        f"Run {meta['created_at']} on {meta['machine']} "
        f"({'quick' if meta['quick'] else 'full'} run, {meta['duration_s']} s, load average "
        f"{meta.get('load_average_1m_at_end', '?')} at the end).", "",
        "Rerun: `tradecast bench all --out DIR` (add `--quick` for the 2-minute smoke run); "
        "load alone: `tradecast bench load --users N --duration S --out DIR`.", "",
    ]
    for title, table in SECTIONS.items():
        headers, rows = table(results)
        lines += [f"## {title}", "", markdown_table(headers, rows) if rows else "(not run)", ""]
        lines += _section_notes(results, title)
    lines += ["## Charts", ""] + [f"![{name}]({name})" for name in charts] + [""]
    path.write_text("\n".join(lines))
    return path


def _section_notes(results: dict, title: str) -> list[str]:
    rates = results.get("latency", {}).get("meta", {}).get("matmul_gflops")
    if title == "Model latency" and rates:
        cores = ", ".join(f"{threads} thread(s) {rate} GFLOP/s" for threads, rate in rates.items())
        return [f"Floor: matmul FLOPs per window (counted from the ONNX graph) / onnxruntime "
                f"MatMul rate measured in the same run ({cores}).", ""]
    if title == "HTTP path" and "overhead_ms" in results.get("http", {}):
        http = results["http"]
        notes = [f"Framework overhead: {http['overhead_ms']:.2f} ms (predict over HTTP minus "
                 "the same features + model + signal rule in process, p50, from a client that "
                 "sends bodies encoded in advance on one kept-alive connection); HTTP minus every "
                 f"stage in process (BentoML, uvicorn, loopback): {http['server_ms']:.2f} ms; "
                 f"the live-state hop (ingest overhead minus predict overhead): "
                 f"{http['hop_ms']:.2f} ms.", ""]
        bulk = [[r["variant"], r["batch"], r["p50_ms"], r["per_window_p50_ms"],
                 r["per_window_vs_batch_1"]] for r in http.get("bulk", [])]
        bulk += [["ingest_many", r["batch"], r["p50_ms"], r["per_bar_p50_ms"], None]
                 for r in http.get("bulk_ingest", [])]
        if bulk:
            notes += [markdown_table(["bulk", "batch", "p50 ms", "per window ms",
                                      "per window / batch 1"], bulk), ""]
        return notes
    if title == "Load":
        notes = []
        for name, load in results.get("load", {}).items():
            if load.get("memory"):
                memory = load["memory"]
                per_process = ", ".join(f"{p['role']} {p['rss_mib']} MiB / {p['cpu_s']} CPU s"
                                        for p in memory.get("processes", []))
                notes.append(f"- {name}: server memory {memory['start_mib']} → "
                             f"{memory['end_mib']} MiB ({memory['growth_mib']:+} MiB); "
                             f"per process: {per_process}.")
            if "rebalanced" in load:
                requests = load["endpoints"].get("Aggregated", {}).get("requests", 0)
                notes.append(f"- {name}: {load['rebalanced']} of {requests} answers asked their "
                             "client to reconnect to spread the load over the workers.")
            if load.get("bare"):
                bare = load["bare"]
                notes.append(f"- {name}: bare {bare['variant']} p50 {bare['p50_ms']} ms, "
                             f"p99 {bare['p99_ms']} ms; capacity {bare['capacity_rps']} RPS "
                             f"({bare['cores']} cores / bare p50).")
            if load.get("steady"):
                notes.append(f"- {name}, after ramp-up: {steady_note(load)}.")
            if load.get("drift"):
                drift = load["drift"]
                notes.append(f"- {name}: p99 first {drift['window_s']} s "
                             f"{drift['first_p99_ms']} ms, last {drift['last_p99_ms']} ms "
                             f"(drift {drift['drift_ms']:+} ms).")
            for failure in load.get("failures", []):
                notes.append(f"- {name}: {failure['occurrences']} × {failure['method']} "
                             f"{failure['name']}: {failure['error']}")
        return [*notes, ""] if notes else []
    return []


def steady_note(load: dict) -> str:
    """Predict p99s after the ramp-up, each beside its variant's bare p99."""
    bare = load.get("bare_by_variant") or {}
    cells = []
    for name, stats in sorted(load["steady"].items()):
        if name != "all" and not name.startswith("predict"):
            continue
        variant = variant_name(name)
        cell = f"{name} p99 {stats['p99_ms']} ms"
        if variant in bare:
            cell += f" ({stats['p99_ms'] / bare[variant]['p99_ms']:.1f}x its bare p99)"
        cells.append(cell)
    return "; ".join(cells)


def print_tables(results: dict, titles: tuple[str, ...] = tuple(SECTIONS)) -> None:
    """Print the chosen sections as rich tables on stdout."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for title in titles:
        headers, rows = SECTIONS[title](results)
        if not rows:
            continue
        table = Table(title=title, title_justify="left")
        for header in headers:
            table.add_column(header)
        for row in rows:
            style = "red" if "MISSED" in row or "FAIL" in row else None
            table.add_row(*(_cell(value) for value in row), style=style)
        console.print(table)
