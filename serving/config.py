"""The service's configuration: defaults, overridden by TRADECAST_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from policy.signal_rule import SignalRuleConfig


@dataclass(frozen=True)
class ServingConfig:
    intra_op_threads: int | None = None  # onnxruntime threads per run; None: threads.json, else 1
    live_variant: str = "hybrid"  # variant (or "combined") answering ingest and signals
    snapshot_every: int = 200  # ingested bars between two snapshots of the live state
    fsync: bool = True  # fsync the ingest journal on every bar (a crash loses nothing)
    state_dir: Path | None = None  # live state folder; None: <home>/data/state/live
    combined_weights: Mapping[str, float] | None = None  # None: from validation metrics
    model_lanes: int = 0  # concurrent onnxruntime runs for one batch's windows; 0: one per core
    signal_rule: SignalRuleConfig = field(default_factory=SignalRuleConfig)  # shared rule


def config_from_env() -> ServingConfig:
    """The service's configuration: defaults, overridden by TRADECAST_* environment variables."""
    defaults = ServingConfig()
    return ServingConfig(
        intra_op_threads=int(os.environ["TRADECAST_THREADS"]) if "TRADECAST_THREADS" in os.environ
        else defaults.intra_op_threads,
        live_variant=os.environ.get("TRADECAST_LIVE_VARIANT", defaults.live_variant),
        snapshot_every=int(os.environ.get("TRADECAST_SNAPSHOT_EVERY", defaults.snapshot_every)),
        fsync=os.environ.get("TRADECAST_FSYNC", "1") != "0",
        model_lanes=int(os.environ.get("TRADECAST_MODEL_LANES", defaults.model_lanes)),
        state_dir=Path(os.environ["TRADECAST_STATE_DIR"]) if "TRADECAST_STATE_DIR" in os.environ
        else None,
    )


def serving_workers() -> int:
    """API worker processes: TRADECAST_WORKERS, else one per core."""
    return int(os.environ.get("TRADECAST_WORKERS") or 0) or os.cpu_count() or 1


def framework_logging() -> dict:
    """BentoML's logging settings: its access log line cost about 2.7 ms per request (most of
    the framework's overhead when measured), so it is off unless TRADECAST_ACCESS_LOG=1;
    request counts and latencies stay on /metrics."""
    return {"access": {"enabled": os.environ.get("TRADECAST_ACCESS_LOG", "0") == "1"}}


def framework_tracing() -> dict:
    """BentoML's tracing settings. It opens an OpenTelemetry span for every request (about
    0.7 ms of a predict's time over HTTP, measured side by side) and sends them nowhere until
    an exporter is configured, so every URL is left out unless TRADECAST_TRACING=1, which
    hands tracing back to BentoML's own settings."""
    if os.environ.get("TRADECAST_TRACING", "0") == "1":
        return {}
    return {"excluded_urls": [".*"]}  # a pattern that every URL matches
