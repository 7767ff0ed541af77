"""The service path timed over HTTP, next to the same model's bare onnxruntime time.

``run`` starts the service on a free 127.0.0.1 port (live state in a scratch folder, so the
home's own live state is untouched), sends ``n`` predict requests built from real sample bars
and streams ``n`` bars through ingest, one request at a time over a kept-alive connection. In
the same process and run it times the same work without HTTP: the bare onnxruntime call on the
same windows and the whole in-process pipeline (features + model + signal rule). The
framework's overhead is HTTP predict minus in-process pipeline (BentoML, JSON, validation).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

TARGETS_MS = {"predict_p99": 10.0, "ingest_p99": 12.0, "overhead": 2.0}
SYMBOL = "AAPL"  # the real sample bars the requests carry
WARMUP = 20  # untimed requests before each timed series


def percentiles(samples_s: list[float]) -> dict[str, float]:
    values = np.asarray(samples_s) * 1e3
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p95_ms": round(float(np.percentile(values, 95)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "n": len(values),
    }


def timed(call: Callable[[int], object], n: int) -> list[float]:
    """Seconds per call for calls WARMUP .. WARMUP + n - 1 (the first WARMUP are untimed)."""
    samples = []
    for index in range(WARMUP + n):
        started = time.perf_counter()
        call(index)
        samples.append(time.perf_counter() - started)
    return samples[WARMUP:]


@contextmanager
def scratch_environment(**values: str):
    """Environment variables for the server process this run starts."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def api_key_header() -> dict[str, str]:
    key = os.environ.get("TRADECAST_API_KEY")
    return {"x-api-key": key} if key else {}


def run(
    home: str | os.PathLike[str] | None,
    out: str | os.PathLike[str] | None = None,
    variant: str = "hybrid",
    n: int = 300,
) -> dict:
    """Time predict and ingest over HTTP and the same model in process; return p50/p95/p99."""
    import httpx

    from benchmarks.load import local_server, predict_request
    from features.engine import compute_features
    from features.home import resolve_home
    from features.store import BarStore
    from features.windows import WINDOW, model_matrix
    from serving.examples import bar_json
    from serving.pipeline import MIN_BARS, Forecaster, ServingConfig, bars_frame
    from serving.predictor import OnnxPredictor
    from serving.registry import ModelRegistry

    resolved = resolve_home(home)
    bars = BarStore(resolved.bars_dir).read(SYMBOL, "1d")
    n_windows = min(n + WARMUP, len(bars) - MIN_BARS)
    windows = [bars.iloc[i : i + MIN_BARS] for i in range(n_windows)]
    bodies = [predict_request(SYMBOL, w, variant=variant) for w in windows]

    config = ServingConfig(live_variant=variant)
    forecaster = Forecaster(ModelRegistry(resolved.exported_dir), config)
    frames = [bars_frame(body["bars"]) for body in bodies]

    artifact = forecaster.registry.get(variant)
    model_windows = [
        model_matrix(compute_features(frame), artifact.feature_names)[None, -WINDOW:]
        for frame in frames
    ]
    predictor = OnnxPredictor(artifact)
    results = {
        "variant": variant,
        "onnxruntime": percentiles(
            timed(lambda i: predictor.predict(model_windows[i % n_windows]), n)
        ),
        "pipeline": percentiles(
            timed(lambda i: forecaster.forecast_bars(SYMBOL, frames[i % n_windows],
                                                     variant=variant), n)
        ),
    }

    stream = [bar_json(bar) for bar in bars.itertuples()][: MIN_BARS + WARMUP + n]
    with (
        tempfile.TemporaryDirectory() as state_dir,
        scratch_environment(TRADECAST_STATE_DIR=state_dir, TRADECAST_LIVE_VARIANT=variant),
        local_server(resolved.root) as server,
        httpx.Client(base_url=server.url, timeout=60, headers=api_key_header()) as client,
    ):
        def predict(i: int) -> None:
            client.post("/predict", json=bodies[i % n_windows]).raise_for_status()

        results["predict"] = percentiles(timed(predict, n))
        for bar in stream[:MIN_BARS]:  # warm the live state up (untimed)
            client.post("/ingest", json={"symbol": SYMBOL, "bar": bar}).raise_for_status()

        def ingest(i: int) -> None:
            bar = stream[MIN_BARS + i]
            client.post("/ingest", json={"symbol": SYMBOL, "bar": bar}).raise_for_status()

        results["ingest"] = percentiles(timed(ingest, min(n, len(stream) - MIN_BARS - WARMUP)))

    results["overhead_ms"] = round(results["predict"]["p50_ms"] - results["pipeline"]["p50_ms"], 3)
    results["targets_ms"] = TARGETS_MS
    results["met"] = {
        "predict_p99": results["predict"]["p99_ms"] <= TARGETS_MS["predict_p99"],
        "ingest_p99": results["ingest"]["p99_ms"] <= TARGETS_MS["ingest_p99"],
        "overhead": results["overhead_ms"] <= TARGETS_MS["overhead"],
    }
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2))
    return results
