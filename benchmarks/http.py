"""The service path timed over HTTP, next to the same work in process, stage by stage.

``run`` starts the service on a free 127.0.0.1 port (live state in a scratch folder, so the
home's own live state is untouched) and, one request at a time over a kept-alive connection,
sends ``n`` predict requests built from real sample bars and streams ``n`` bars through ingest,
each step of the loop timing every path below in turn (so all see the same load), then times
the bulk endpoints at each batch size (``predict_many`` for every variant, ``ingest_many``
with one bar for each of that many symbols). In the same process and run it times the same work
without HTTP:

- each stage of a predict: ``parse`` (the request body through the request schema),
  ``validate`` (bars checked and framed over numpy), ``features``, ``model`` (the variant's
  onnxruntime run with its window picking), ``response`` (the answer's JSON bytes); and the bare
  onnxruntime call on the same windows;
- ``pipeline``: features + model + signal rule from the checked bars, as the service holds them
  (the framework overhead is HTTP predict p50 minus this p50);
- ``ingest`` in process: the live book with its fsync'd journal.

The live-state hop (API worker -> LiveState service) is estimated as the ingest overhead
(HTTP - in process) minus the predict overhead (HTTP - parse..response in process).
"""

from __future__ import annotations

import http.client
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

TARGETS_MS = {"predict_p99": 10.0, "ingest_p99": 12.0, "overhead": 2.0}
BULK_TARGET = 0.5  # per-window cost at the largest batch / at batch 1, through predict_many
SYMBOL = "AAPL"  # the real sample bars the requests carry
WARMUP = 20  # untimed requests before each timed series
STAGES = ("parse", "validate", "features", "model", "response")


def percentiles(samples_s: list[float]) -> dict[str, float]:
    values = np.asarray(samples_s) * 1e3
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p95_ms": round(float(np.percentile(values, 95)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "n": len(values),
    }


def interleaved(calls: dict[str, Callable[[int], object]], n: int) -> dict[str, dict]:
    """p50/p95/p99 of each call, timed in turn at every step (after WARMUP untimed steps), so
    that every path sees the same load from whatever else runs on the machine."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for index in range(WARMUP + n):
        for name, call in calls.items():
            started = time.perf_counter()
            call(index)
            samples[name].append(time.perf_counter() - started)
    return {name: percentiles(values[WARMUP:]) for name, values in samples.items()}


def timed(call: Callable[[int], object], n: int, warmup: int = WARMUP) -> list[float]:
    """Seconds per call for calls warmup .. warmup + n - 1 (the first ``warmup`` are untimed)."""
    samples = []
    for index in range(warmup + n):
        started = time.perf_counter()
        call(index)
        samples.append(time.perf_counter() - started)
    return samples[warmup:]


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


class LeanClient:
    """One kept-alive HTTP/1.1 connection (the standard library's ``http.client``) posting JSON
    encoded once, before the timing: the client's own cost per request stays small, so the
    timings are the server's. httpx with ``json=`` costs 2-3 ms more per predict here (the
    body encoded on every call, and httpx's own machinery); the run times it too
    (``predict_httpx``), to show what a heavier client adds."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        from urllib.parse import urlparse

        parts = urlparse(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        self.headers = {"content-type": "application/json", **headers}

    def post(self, path: str, body: bytes) -> bytes:
        self.connection.request("POST", path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status >= 400:
            raise RuntimeError(f"POST {path}: {response.status} {data[:300]!r}")
        return data

    def close(self) -> None:
        self.connection.close()


def api_key_header() -> dict[str, str]:
    key = os.environ.get("TRADECAST_API_KEY")
    return {"x-api-key": key} if key else {}


def stage_calls(forecaster, bodies: list[dict], variant: str) -> dict[str, Callable]:
    """Each stage of a predict in process, the bare onnxruntime call and the pipeline."""
    import orjson

    from serving.bodies import bar_series
    from serving.forecasting import SeriesInput, series_features
    from serving.predictor import OnnxPredictor
    from serving.responses import forecast_body
    from serving.schemas import PredictRequest
    from serving.windows import engine_rows, feature_windows

    raw = [json.dumps(body).encode() for body in bodies]
    requests = [PredictRequest.model_validate_json(body) for body in raw]
    series = [bar_series(request.bars) for request in requests]
    inputs = [SeriesInput(SYMBOL, bars) for bars in series]
    features = [series_features(item) for item in inputs]
    artifact = forecaster.registry.get(variant)
    windows = [feature_windows(engine_rows(f), artifact.feature_names,
                               np.array([len(f) - 1])) for f in features]
    predictor = OnnxPredictor(artifact)
    result = forecaster.forecast_bars(SYMBOL, series[0], variant=variant)
    k = len(bodies)
    return {
        "parse": lambda i: PredictRequest.model_validate_json(raw[i % k]),
        "validate": lambda i: bar_series(requests[i % k].bars),
        "features": lambda i: series_features(inputs[i % k]),
        "model": lambda i: forecaster.predict_many([features[i % k]], variant),
        "response": lambda i: orjson.dumps(forecast_body(result)),
        "onnxruntime": lambda i: predictor.predict(windows[i % k]),
        "pipeline": lambda i: forecaster.forecast_bars(SYMBOL, series[i % k], variant=variant),
    }


def bulk_times(client: LeanClient, bodies: list[dict], variants: Sequence[str],
               batches: Sequence[int], runs: Sequence[int]) -> list[dict]:
    """predict_many per variant and batch size: p50 per request and per window."""
    rows = []
    for variant in variants:
        for batch, count in zip(batches, runs, strict=True):
            entries = [{"symbol": f"{SYMBOL}.{j}", "bars": bodies[j % len(bodies)]["bars"]}
                       for j in range(batch)]
            body = json.dumps({"requests": entries, "variant": variant}).encode()

            def call(_: int, body: bytes = body) -> None:
                client.post("/predict_many", body)

            stats = percentiles(timed(call, count, warmup=1))
            rows.append({"variant": variant, "batch": batch, **stats,
                         "per_window_p50_ms": round(stats["p50_ms"] / batch, 3)})
    for row in rows:
        first = next(r for r in rows if r["variant"] == row["variant"])
        row["per_window_vs_batch_1"] = round(row["per_window_p50_ms"]
                                             / first["per_window_p50_ms"], 3)
    return rows


def ingest_many_times(client: LeanClient, stream: list[dict], batch: int, n: int) -> dict:
    """ingest_many with one bar for each of ``batch`` symbols: warm them up, then time ticks."""
    from serving.forecasting import MIN_BARS

    names = [f"TICK{batch}.{j}" for j in range(batch)]
    ticks = [json.dumps({"bars": {name: bar for name in names}}).encode()
             for bar in stream[: MIN_BARS + n]]

    def tick(i: int) -> None:
        client.post("/ingest_many", ticks[i])

    for i in range(MIN_BARS):
        tick(i)
    stats = percentiles(timed(lambda i: tick(MIN_BARS + i), n, warmup=0))
    return {"batch": batch, **stats, "per_bar_p50_ms": round(stats["p50_ms"] / batch, 3)}


def run(
    home: str | os.PathLike[str] | None,
    out: str | os.PathLike[str] | None = None,
    variant: str = "hybrid",
    n: int = 300,
    bulk_batches: Sequence[int] = (1, 32),
    bulk_runs: Sequence[int] = (30, 8),
) -> dict:
    """Time predict, ingest and the bulk endpoints over HTTP and the same work in process."""
    import httpx

    from benchmarks.load import local_server, predict_request
    from contract.home import resolve_home
    from marketdata.store import BarStore
    from serving.config import ServingConfig
    from serving.examples import bar_json
    from serving.forecasting import MIN_BARS, Forecaster
    from serving.live import LiveBook
    from serving.registry import ModelRegistry

    resolved = resolve_home(home)
    bars = BarStore(resolved.bars_dir).read(SYMBOL, "1d")
    n_windows = min(n + WARMUP, len(bars) - MIN_BARS)
    bodies = [predict_request(SYMBOL, bars.iloc[i : i + MIN_BARS], variant=variant)
              for i in range(n_windows)]
    stream = [bar_json(bar) for bar in bars.itertuples()][: MIN_BARS + WARMUP + n]
    n_ingest = min(n, len(stream) - MIN_BARS - WARMUP)  # every path gets this many timed calls
    config = ServingConfig(live_variant=variant)
    forecaster = Forecaster(ModelRegistry(resolved.exported_dir), config)
    forecaster.warm_up()
    calls = stage_calls(forecaster, bodies, variant)
    variants = list(forecaster.registry.models)

    with (
        tempfile.TemporaryDirectory() as state_dir,
        scratch_environment(TRADECAST_STATE_DIR=state_dir, TRADECAST_LIVE_VARIANT=variant),
        local_server(resolved.root) as server,
        httpx.Client(base_url=server.url, timeout=120, headers=api_key_header()) as heavy,
    ):
        client = LeanClient(server.url, api_key_header())
        encoded = [json.dumps(body).encode() for body in bodies]
        ingests = [json.dumps({"symbol": SYMBOL, "bar": bar}).encode() for bar in stream]
        book = LiveBook(Path(state_dir) / "in-process", forecaster)
        for i, bar in enumerate(stream[:MIN_BARS]):  # warm both live states up (untimed)
            book.ingest(SYMBOL, bar)
            client.post("/ingest", ingests[i])
        calls["predict"] = lambda i: client.post("/predict", encoded[i % n_windows])
        calls["predict_httpx"] = lambda i: heavy.post(
            "/predict", json=bodies[i % n_windows]).raise_for_status()
        calls["ingest_in_process"] = lambda i: book.ingest(SYMBOL, stream[MIN_BARS + i])
        calls["ingest"] = lambda i: client.post("/ingest", ingests[MIN_BARS + i])
        results: dict = {"variant": variant, "stages": interleaved(calls, n_ingest)}
        for name in ("onnxruntime", "pipeline", "predict", "predict_httpx", "ingest_in_process",
                     "ingest"):
            results[name] = results["stages"].pop(name)
        book.close()
        results["bulk_predict"] = bulk_times(client, bodies, variants, bulk_batches, bulk_runs)
        results["bulk_ingest"] = [ingest_many_times(client, stream, batch, count)
                                  for batch, count in zip(bulk_batches, bulk_runs, strict=True)]
        client.close()
    return summarise(results, out)


def summarise(results: dict, out: str | os.PathLike[str] | None) -> dict:
    """Overheads, the hop estimate and the verdicts; written to ``out`` when given."""
    stages = results["stages"]
    in_process = sum(stages[name]["p50_ms"] for name in STAGES)
    predict, ingest = results["predict"]["p50_ms"], results["ingest"]["p50_ms"]
    results["overhead_ms"] = round(predict - results["pipeline"]["p50_ms"], 3)
    results["server_ms"] = round(predict - in_process, 3)  # BentoML + uvicorn + loopback
    results["hop_ms"] = round((ingest - results["ingest_in_process"]["p50_ms"])
                              - (predict - in_process), 3)
    largest = max(row["batch"] for row in results["bulk_predict"])
    results["bulk_ratio"] = {row["variant"]: row["per_window_vs_batch_1"]
                             for row in results["bulk_predict"] if row["batch"] == largest}
    results["targets_ms"] = TARGETS_MS
    results["met"] = {
        "predict_p99": results["predict"]["p99_ms"] <= TARGETS_MS["predict_p99"],
        "ingest_p99": results["ingest"]["p99_ms"] <= TARGETS_MS["ingest_p99"],
        "overhead": results["overhead_ms"] <= TARGETS_MS["overhead"],
        "bulk": all(ratio <= BULK_TARGET for ratio in results["bulk_ratio"].values()),
    }
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2))
    return results
