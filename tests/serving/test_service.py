"""The real BentoML service on 127.0.0.1: answers equal the offline ones, bad input gets 4xx."""

from __future__ import annotations

import json
import re
import shutil
import threading
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest

from contract.home import Home
from features.engine import compute_features
from marketdata.store import BarStore
from serving.config import ServingConfig
from serving.examples import bar_json
from serving.forecasting import MIN_BARS, Forecaster
from serving.launch import ServerProcess as Server
from serving.registry import ModelRegistry
from serving.responses import forecast_body

from .helpers import API_KEY


@pytest.fixture(scope="module")
def forecaster(serving_home: Home) -> Forecaster:
    return Forecaster(ModelRegistry(serving_home.exported_dir), ServingConfig())


@pytest.fixture(scope="module")
def body(aapl) -> dict:
    bars = [bar_json(bar) for bar in aapl.iloc[-MIN_BARS:].itertuples()]
    return {"symbol": "AAPL", "bars": bars, "variant": "hybrid"}


def assert_same_forecast(answer: dict, expected: dict) -> None:
    assert answer["versions"] == expected["versions"]
    assert answer["signal"] == expected["signal"]
    for got, want in zip(answer["forecasts"], expected["forecasts"], strict=True):
        assert got.keys() == want.keys()
        np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=1e-5, atol=1e-7)
    if expected["attention"] is not None:
        np.testing.assert_allclose(answer["attention"], expected["attention"], rtol=1e-5)


@pytest.mark.parametrize("variant", ["hybrid", "ensemble", "combined"])
def test_predict_equals_the_offline_pipeline(client, forecaster, body, aapl, variant) -> None:
    response = client.post("/predict", json={**body, "variant": variant, "return_attention": True})
    assert response.status_code == 200, response.text
    answer = response.json()
    offline = forecaster.forecast_bars("AAPL", aapl.iloc[-MIN_BARS:], variant=variant)
    assert_same_forecast(answer, forecast_body(offline, return_attention=True))
    assert len(answer["attention"]) == 60 and answer["variant"] == variant
    probabilities = [[f["p_down"], f["p_flat"], f["p_up"]] for f in answer["forecasts"]]
    np.testing.assert_allclose(np.sum(probabilities, axis=1), 1.0, rtol=1e-5)


def test_concurrent_predicts_each_get_their_own_answer(server: Server, forecaster, aapl) -> None:
    """Many clients at once: the worker merges their windows into shared model runs
    (`serving.coalesce`); every answer must still be its own request's."""
    starts = range(0, 16 * 9, 9)
    answers: dict[int, dict] = {}

    def client_for(start: int) -> None:
        bars = aapl.iloc[start : start + MIN_BARS]
        body = {"symbol": f"S{start}", "bars": [bar_json(bar) for bar in bars.itertuples()]}
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for _ in range(3):
                response = http.post("/predict", json=body)
                assert response.status_code == 200, response.text
                answers[start] = response.json()

    threads = [threading.Thread(target=client_for, args=(start,)) for start in starts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == list(starts)
    for start, answer in answers.items():
        offline = forecaster.forecast_bars(f"S{start}", aapl.iloc[start : start + MIN_BARS])
        assert answer["symbol"] == f"S{start}"
        assert_same_forecast(answer, forecast_body(offline))
    assert hybrid_runs(server) >= 1


def hybrid_runs(server: Server) -> float:
    """How many hybrid model runs the server's /metrics counts (0 when it shows none)."""
    metrics = httpx.get(server.url + "/metrics").text
    runs = re.search(r'tradecast_predict_batch_requests_count\{variant="hybrid"\} (\S+)', metrics)
    return 0.0 if runs is None else float(runs.group(1))


def test_starting_another_server_keeps_this_ones_metrics(
    server: Server, client, body, serving_home: Home, tmp_path
) -> None:
    """BentoML empties its Prometheus folder whenever a server starts; each port has a BentoML
    home of its own, so another server on the machine leaves this one's /metrics alone."""
    assert client.post("/predict", json=body).status_code == 200
    before = hybrid_runs(server)
    other = Server.start(serving_home.root, tmp_path / "other.log", TRADECAST_WORKERS="1",
                         TRADECAST_STATE_DIR=str(tmp_path / "live"))
    try:
        assert other.url != server.url
        assert hybrid_runs(server) >= before >= 1
    finally:
        other.stop()


def test_attention_only_when_asked(client, body) -> None:
    assert client.post("/predict", json=body).json()["attention"] is None


def test_ingest_matches_the_offline_pipeline_and_is_idempotent(client, forecaster, aapl) -> None:
    bars = aapl.iloc[-(MIN_BARS + 3):]
    answers = [client.post("/ingest", json={"symbol": "TEST.A", "bar": bar_json(b)})
               for b in bars.itertuples()]
    assert all(a.status_code == 200 for a in answers), answers[-1].text
    last = answers[-1].json()
    assert last["added"] and last["bars"] == MIN_BARS + 3 and last["bars_needed"] == 0
    offline = forecaster.predict_frame(compute_features(bars), "hybrid")
    np.testing.assert_allclose([f["p_up"] for f in last["forecast"]["forecasts"]],
                               offline[0].probabilities[0, :, 2], rtol=1e-4, atol=1e-6)
    again = client.post("/ingest", json={"symbol": "TEST.A", "bar": bar_json(
        next(bars.iloc[-1:].itertuples()))})
    assert again.status_code == 200 and again.json()["added"] is False
    assert again.json()["forecast"] == last["forecast"]
    older = client.post("/ingest", json={"symbol": "TEST.A", "bar": bar_json(
        next(bars.iloc[-5:].itertuples()))})
    assert older.status_code == 409 and "older than" in older.json()["error"]
    signals = client.post("/signals", json={"symbols": ["TEST.A"]}).json()["signals"]
    assert signals["TEST.A"] == last["forecast"]


def test_models_lists_every_variant(client, serving_home: Home) -> None:
    manifest = json.loads((serving_home.exported_dir / "manifest.json").read_text())
    answer = client.post("/models", json={}).json()
    assert {m["variant"]: m["version"] for m in answer["models"]} == {
        v: e["version"] for v, e in manifest["variants"].items()
    }
    assert sum(m["ensemble_weight"] for m in answer["models"]) == pytest.approx(1.0)
    assert all(m["metadata"]["untrained"] is True for m in answer["models"])  # shown as such


def bad_requests(body: dict) -> list[tuple[str, dict, int, str]]:
    """(name, request kwargs, status, a text the answer must contain)."""
    bar, first = body["bars"][-1], body["bars"][0]
    nan_body = json.dumps(body).replace(str(bar["close"]), "NaN", 1)
    return [
        ("malformed json", {"content": b'{"symbol": ', "headers": JSON}, 400, "json"),
        ("missing field", {"json": {"symbol": "AAPL"}}, 400, "bars"),
        ("59 bars", {"json": {**body, "bars": body["bars"][-59:]}}, 422, "59 bars given"),
        ("nan", {"content": nan_body.encode(), "headers": JSON}, 400, "finite"),
        ("inf", {"content": json.dumps(body).replace(str(bar["close"]), "Infinity", 1)
                 .encode(), "headers": JSON}, 400, "finite"),
        ("negative price", {"json": {**body, "bars": [*body["bars"][:-1], {**bar, "low": -1.0}]}},
         422, "bars[119].low"),
        ("negative volume", {"json": {**body, "bars": [{**first, "volume": -1.0},
                                                        *body["bars"][1:]]}},
         422, "bars[0].volume"),
        ("zone-less time", {"json": {**body, "bars": [*body["bars"][:-1], {
            **bar, "timestamp": bar["timestamp"][:19]}]}}, 400, "timezone"),
        ("year 2500", {"json": {**body, "bars": [*body["bars"][:-1], {
            **bar, "timestamp": "2500-01-01T00:00:00Z"}]}}, 422, "bars[119].timestamp"),
        ("unknown bar field", {"json": {**body, "bars": [{**first, "colour": 1},
                                                          *body["bars"][1:]]}}, 400, "colour"),
        ("numeric string", {"json": {**body, "bars": [*body["bars"][:-1], {**bar, "open": "1.5"}]}},
         400, "open"),
        ("unknown field", {"json": {**body, "colour": "red"}}, 400, "colour"),
        ("unknown variant", {"json": {**body, "variant": "nope"}}, 404, "variant"),
        ("bars out of order", {"json": {**body, "bars": body["bars"][::-1]}}, 422,
         "bars[1].timestamp"),
        ("oversized body", {"content": b'{"symbol": "' + b"A" * 3_000_000 + b'"}',
                            "headers": JSON}, 413, "larger than"),
        ("wrong content type", {"content": json.dumps(body).encode(),
                                "headers": {"content-type": "text/plain"}}, 415, "content-type"),
        ("multipart without boundary", {"content": b"--x\r\n",
                                        "headers": {"content-type": "multipart/form-data"}},
         415, "content-type"),
    ]


JSON = {"content-type": "application/json"}


def test_bad_input_gets_a_4xx_naming_the_problem(client, body) -> None:
    for name, request, status, text in bad_requests(body):
        response = client.post("/predict", **request)
        assert response.status_code == status, (name, response.text[:300])
        assert text.lower() in response.text.lower(), (name, response.text[:300])


def test_direct_routes_refuse_a_body_as_bentoml_does(client) -> None:
    """/predict is answered before BentoML's dispatch (serving.direct), /predict_many through
    it: the same malformed body gets the same 400 answer from both."""
    direct = client.post("/predict", content=b'{"symbol": ', headers=JSON)
    dispatched = client.post("/predict_many", content=b'{"symbol": ', headers=JSON)
    assert direct.status_code == dispatched.status_code == 400
    mine, bentoml = direct.json(), dispatched.json()
    assert mine["error"] == bentoml["error"].replace("PredictMany", "Predict")
    assert mine["detail"] == bentoml["detail"] and mine["detail"][0]["type"] == "json_invalid"
    # the one visible difference: BentoML's dispatch names itself in a Server header
    assert "BentoML" in dispatched.headers["server"] and "server" not in direct.headers


def test_predict_many_equals_one_predict_per_symbol(client, body, aapl, sample_home) -> None:
    store = BarStore(sample_home.bars_dir)
    entries = [{"symbol": s, "bars": [bar_json(b) for b in store.read(s, "1d").iloc[-MIN_BARS - k:
                                                                              len(aapl) - k]
                                      .itertuples()]}
               for k, s in enumerate(("AAPL", "GOOG", "SPY"))]
    many = client.post("/predict_many", json={"requests": entries, "variant": "combined",
                                              "return_attention": True})
    assert many.status_code == 200, many.text
    answers = many.json()["forecasts"]
    assert [a["symbol"] for a in answers] == ["AAPL", "GOOG", "SPY"]
    for entry, answer in zip(entries, answers, strict=True):
        one = client.post("/predict", json={**entry, "variant": "combined",
                                            "return_attention": True}).json()
        assert answer["timestamp"] == one["timestamp"]
        assert_same_forecast(answer, one)


def test_predict_many_names_the_bad_entry(client, body) -> None:
    bar = body["bars"][5]
    bad = {"symbol": "B", "bars": [*body["bars"][:5], {**bar, "high": 0.0}, *body["bars"][6:]]}
    good = {"symbol": "A", "bars": body["bars"]}
    answer = client.post("/predict_many", json={"requests": [good, bad]})
    assert answer.status_code == 422 and answer.json()["field"] == "requests[1].bars[5].high"
    short = {**good, "bars": body["bars"][:70]}
    short = client.post("/predict_many", json={"requests": [good, short]})
    assert short.status_code == 422 and short.json()["field"] == "requests[1].bars"


def test_ingest_many_equals_single_ingests_and_commits_together(client, aapl, sample_home) -> None:
    store = BarStore(sample_home.bars_dir)
    series = {s: store.read(s, "1d").iloc[-(MIN_BARS + 2):] for s in ("AAPL", "GOOG")}
    for step in range(MIN_BARS + 2):
        tick = {f"MANY.{s}": bar_json(next(f.iloc[step:step + 1].itertuples()))
                for s, f in series.items()}
        many = client.post("/ingest_many", json={"bars": tick})
        assert many.status_code == 200, many.text
        for symbol, bar in tick.items():
            one = client.post("/ingest", json={"symbol": symbol.replace("MANY", "ONE"), "bar": bar})
            assert one.status_code == 200, one.text
    results = many.json()["results"]
    singles = client.post("/signals", json={"symbols": ["ONE.AAPL", "ONE.GOOG"]}).json()
    for symbol, result in results.items():
        expected = singles["signals"][symbol.replace("MANY", "ONE")]
        assert result["added"] and result["bars"] == MIN_BARS + 2
        assert result["forecast"]["signal"] == expected["signal"]
        for got, want in zip(result["forecast"]["forecasts"], expected["forecasts"], strict=True):
            assert got == pytest.approx(want, rel=1e-5, abs=1e-7)
    again = client.post("/ingest_many", json={"bars": tick}).json()["results"]
    assert not any(r["added"] for r in again.values())
    older = {**tick, "MANY.AAPL": bar_json(next(series["AAPL"].iloc[:1].itertuples()))}
    refused = client.post("/ingest_many", json={"bars": older})
    assert refused.status_code == 409 and refused.json()["field"] == "bars.MANY.AAPL.timestamp"
    negative = {**tick, "MANY.GOOG": {**tick["MANY.GOOG"], "close": -2.0}}
    invalid = client.post("/ingest_many", json={"bars": negative})
    assert invalid.status_code == 422 and invalid.json()["field"] == "bars.MANY.GOOG.close"


def test_unknown_symbol_in_signals_is_404(client) -> None:
    response = client.post("/signals", json={"symbols": ["NEVER"]})
    assert response.status_code == 404 and "NEVER" in response.json()["error"]


def test_api_key_guards_ingest_and_reload_and_is_never_logged(server: Server, body) -> None:
    bar = body["bars"][-1]
    for path, payload in (("/ingest", {"symbol": "KEY", "bar": bar}), ("/reload", {})):
        assert httpx.post(server.url + path, json=payload).status_code == 401
        wrong = httpx.post(server.url + path, json=payload, headers={"x-api-key": "wrong-key"})
        assert wrong.status_code == 401
    assert httpx.post(server.url + "/predict", json=body).status_code == 200  # predict is open
    ok = httpx.post(server.url + "/ingest", json={"symbol": "KEY", "bar": bar},
                    headers={"x-api-key": API_KEY})
    assert ok.status_code == 200
    log = server.log.read_text()
    assert "/ingest" in log  # the access log is on, so the check below means something
    assert API_KEY not in log and "wrong-key" not in log


def test_docs_page_loads_nothing_from_outside(server: Server) -> None:
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "swagger-ui" in page.text
    links = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', page.text)
    assert links and not [link for link in links if "//" in link]
    assert "googletagmanager" not in page.text
    for link in links:
        assert httpx.get(f"{server.url}/{link.removeprefix('./')}").status_code == 200, link
    spec = httpx.get(server.url + "/docs.json").json()
    bar = spec["components"]["schemas"]["Bar"]["properties"]
    assert all(field.get("description") for field in bar.values())


def test_probes_and_metrics_stay_on(server: Server) -> None:
    for path in ("/livez", "/readyz"):
        assert httpx.get(server.url + path).status_code == 200
    metrics = httpx.get(server.url + "/metrics")
    assert metrics.status_code == 200, metrics.text[:300]
    assert "bentoml_service_request" in metrics.text, metrics.text[:500]


def test_requests_open_no_tracing_span(client, body) -> None:
    # BentoML names the request's span in this header whenever it opens one (TRADECAST_TRACING=1)
    answer = client.post("/predict", json=body)
    assert answer.status_code == 200, answer.text
    assert "x-bentoml-request-id" not in answer.headers, dict(answer.headers)


def test_reload_swaps_versions_without_a_failed_request(
    client, server: Server, serving_home: Home, body
) -> None:
    manifest_path = serving_home.exported_dir / "manifest.json"
    original = manifest_path.read_text()
    manifest = json.loads(original)
    old = manifest["variants"]["hybrid"]
    new_dir = serving_home.exported_dir / "hybrid" / "v-reloaded"
    shutil.copytree(serving_home.exported_dir / old["path"], new_dir)
    metadata = json.loads((new_dir / "metadata.json").read_text())
    (new_dir / "metadata.json").write_text(json.dumps({**metadata, "version": "v-reloaded"}))
    statuses, versions, stop = [], set(), threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as own:
            while not stop.is_set():
                answer = own.post("/predict", json=body)
                statuses.append(answer.status_code)
                if answer.status_code == 200:
                    versions.add(answer.json()["versions"]["hybrid"])

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        manifest["variants"]["hybrid"] = {"version": "v-reloaded", "path": "hybrid/v-reloaded"}
        manifest_path.write_text(json.dumps(manifest))
        reloaded = client.post("/reload", json={})
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["versions"]["hybrid"] == "v-reloaded"
        after = client.post("/predict", json=body).json()
        assert after["versions"]["hybrid"] == "v-reloaded"
        stop.set()  # both workers idle from here: a new connection may reach either
        worker.join()
        (new_dir / "model.onnx").write_bytes(b"broken")  # a bad reload keeps what is loaded
        assert client.post("/reload", json={}).status_code == 503
        kept = set()
        for _ in range(20):  # on new connections, answered by either worker
            with httpx.Client(base_url=server.url, timeout=30) as fresh:
                answer = fresh.post("/predict", json=body)
            assert answer.status_code == 200, answer.text
            kept.add(answer.json()["versions"]["hybrid"])
        # every worker that loaded v-reloaded keeps it; one that had not yet keeps the old one
        # (the manifest now names a broken graph it cannot load either)
        assert "v-reloaded" in kept and kept <= {"v-reloaded", old["version"]}
    finally:
        stop.set()
        worker.join()
        manifest_path.write_text(original)  # the other tests expect the exported versions
        client.post("/reload", json={})
    assert statuses and set(statuses) == {200}
    assert "v-reloaded" in versions


def test_workers_run_on_uvloop_and_httptools(server: Server) -> None:
    """uvicorn picks both up when installed (BentoML leaves its loop and http on "auto"): each
    API worker has their compiled modules loaded."""
    tree = psutil.Process(server.process.pid).children(recursive=True)
    workers = [p for p in tree if "--service-name tradecast " in " ".join(p.cmdline())]
    assert len(workers) == 2
    for worker in workers:
        maps = Path(f"/proc/{worker.pid}/maps").read_text()
        assert "uvloop/loop" in maps and "httptools/parser" in maps
