"""Locust's output read back: its CSV statistics and failures, and the per-request log the
locustfile writes (per-endpoint percentiles, a soak run's p99 drift)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def read_locust_stats(path: Path) -> dict[str, dict]:
    """Per endpoint (and ``Aggregated``): requests, failures, RPS and latency percentiles in ms."""
    endpoints = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            endpoints[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": round(float(row["Requests/s"]), 2),
                "p50_ms": _percentile_cell(row["50%"]),
                "p95_ms": _percentile_cell(row["95%"]),
                "p99_ms": _percentile_cell(row["99%"]),
                "max_ms": round(float(row["Max Response Time"]), 1),
            }
    return endpoints


def endpoint_name(name: str) -> str:
    """``predict [hybrid]`` -> ``predict``: the request name without its variant."""
    return name.split(" [")[0]


def variant_name(name: str) -> str | None:
    """``predict [hybrid]`` -> ``hybrid``: the variant a request name carries (None: none)."""
    return name.rsplit(" [", 1)[1].rstrip("]") if name.endswith("]") else None


def read_request_log(request_log: Path) -> list[tuple[float, str, float, bool]]:
    """The locustfile's per-request log: (unix time, request name, ms, failed)."""
    with open(request_log, newline="") as handle:
        return [(float(row["time"]), row["name"], float(row["ms"]), row["failed"] == "True")
                for row in csv.DictReader(handle)]


def latency_stats(rows: list[tuple[float, float, bool]], span_s: float) -> dict:
    """Requests, failures, RPS, p50/p95/p99 and max of (time, ms, failed) rows."""
    ms = np.array([m for _, m, _ in rows])
    return {
        "requests": len(rows), "failures": sum(f for _, _, f in rows),
        "rps": round(len(rows) / span_s, 2) if span_s else None,
        **{f"p{q}_ms": round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)},
        "max_ms": round(float(ms.max()), 1),
    }


def grouped_stats(log: list[tuple[float, str, float, bool]], key) -> dict[str, dict]:
    """`latency_stats` of the log's requests grouped by ``key(name)``, plus ``all``."""
    groups: dict[str, list[tuple[float, float, bool]]] = {}
    for t, name, ms, failed in log:
        groups.setdefault(key(name), []).append((t, ms, failed))
        groups.setdefault("all", []).append((t, ms, failed))
    span = max((t for t, *_ in log), default=0) - min((t for t, *_ in log), default=0)
    return {name: latency_stats(rows, span) for name, rows in groups.items()}


def endpoint_stats(request_log: Path, names: dict[str, dict]) -> dict[str, dict]:
    """Per endpoint (variants folded together) from the per-request log, plus locust's
    ``Aggregated`` row."""
    endpoints = grouped_stats(read_request_log(request_log), endpoint_name)
    endpoints.pop("all")
    if "Aggregated" in names:
        endpoints["Aggregated"] = names["Aggregated"]
    return endpoints


def steady_stats(request_log: Path, ramp_s: float) -> dict[str, dict]:
    """Per request name (``predict [hybrid]``...) and ``all``, leaving out the ramp-up: the
    requests of the first ``ramp_s`` seconds, when every user opens its connection and sends
    its first request at once. What a service answers once its users are connected."""
    log = read_request_log(request_log)
    start = min((t for t, *_ in log), default=0)
    return grouped_stats([row for row in log if row[0] >= start + ramp_s], lambda name: name)


def _percentile_cell(cell: str) -> float | None:
    return None if cell in ("", "N/A") else float(cell)


def read_locust_failures(path: Path) -> list[dict]:
    """Locust's failure table: method, name, error message and how often it happened."""
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [{"method": row["Method"], "name": row["Name"], "error": row["Error"],
                 "occurrences": int(row["Occurrences"])} for row in csv.DictReader(handle)]


def p99_drift(request_log: Path, window_s: int) -> dict:
    """p99 of the first and the last ``window_s`` seconds of a run, and of every window between.

    Read from the per-request log; the feeds' warm-up requests (no model call) are left out.
    """

    times, latencies = [], []
    with open(request_log, newline="") as handle:
        for row in csv.DictReader(handle):
            if not row["name"].endswith("(warm-up)"):
                times.append(float(row["time"]))
                latencies.append(float(row["ms"]))
    times, latencies = np.asarray(times), np.asarray(latencies)
    start, end = times.min(), times.max()
    first = latencies[times <= start + window_s]
    last = latencies[times >= end - window_s]
    first_p99, last_p99 = float(np.percentile(first, 99)), float(np.percentile(last, 99))
    windows = np.floor((times - start) / window_s)
    return {
        "window_s": window_s,
        "first_p99_ms": round(first_p99, 2),
        "last_p99_ms": round(last_p99, 2),
        "drift_ms": round(last_p99 - first_p99, 2),
        "drift_pct": round(100 * (last_p99 - first_p99) / first_p99, 1),
        "first_requests": int(first.size),
        "last_requests": int(last.size),
        "p99_by_window": [(int(k * window_s), round(float(np.percentile(latencies[windows == k],
                                                                         99)), 2))
                          for k in np.unique(windows)],
    }
