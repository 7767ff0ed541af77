"""The service as a Bento: `bentoml build` from a clean copy of the checkout, then
`bentoml serve <tag>` on 127.0.0.1 over a mounted home answers a real /predict."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import yaml

from contract.home import PROJECT_ROOT, Home
from marketdata.store import BarStore
from scaleout.bento import SERVED, normalise, pinned_dependencies, serving_requirements
from serving.examples import bar_json
from serving.forecasting import MIN_BARS
from serving.launch import ServerProcess, free_port
from tests.serving.helpers import make_home


def clean_copy(destination: Path) -> Path:
    """The checkout as a clone has it: tracked and new files, nothing git ignores."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = PROJECT_ROOT / name
        if source.is_file():  # a file deleted but not yet committed is listed too
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def bento_env(bentoml_home: Path, **extra: str) -> dict[str, str]:
    # No PYTHONPATH: the Bento must run its own copy of the code, not the checkout's.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRADECAST_HOME")}
    return {**env, "BENTOML_HOME": str(bentoml_home), "BENTOML_DO_NOT_TRACK": "True", **extra}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str]:
    """(BENTOML_HOME, tag) after `bentoml build` in a scratch home from a clean copy."""
    source = clean_copy(tmp_path_factory.mktemp("clone"))
    bentoml_home = tmp_path_factory.mktemp("bentoml_home")
    subprocess.run([sys.executable, "-m", "bentoml", "build", ".", "--output", "tag"],
                   cwd=source, env=bento_env(bentoml_home), capture_output=True, text=True,
                   check=True)
    tags = [p.name for p in (bentoml_home / "bentos" / "tradecast").iterdir() if p.is_dir()
            and not p.is_symlink() and p.name != "latest"]
    assert len(tags) == 1, tags
    return bentoml_home, f"tradecast:{tags[0]}"


@pytest.fixture(scope="module")
def bento_dir(built) -> Path:
    bentoml_home, tag = built
    return bentoml_home / "bentos" / "tradecast" / tag.split(":")[1]


def test_the_bento_holds_the_service_code_and_nothing_else(bento_dir: Path) -> None:
    files = [p.relative_to(bento_dir / "src").as_posix()
             for p in (bento_dir / "src").rglob("*") if p.is_file()]
    assert "serving/service.py" in files and "features/engine.py" in files
    assert "marketdata/bars.py" in files and "marketdata/sources/base.py" not in files
    tops = {name.split("/")[0] for name in files}
    # No tests, data or training; the dashboard only as its build (dashboard/dist), if made.
    allowed = {"serving", "features", "policy", "marketdata", "contract", "dashboard",
               "bentofile.yaml"}
    assert tops <= allowed, tops
    assert all(n.startswith("dashboard/dist/") for n in files if n.startswith("dashboard/"))
    assert not [n for n in files if n.endswith((".onnx", ".safetensors", ".parquet"))]
    assert not [n for n in files if "node_modules" in n or "__pycache__" in n]
    config = yaml.safe_load((bento_dir / "bento.yaml").read_text())
    assert config["service"] == "serving.service:TradecastService"
    assert {s["name"] for s in config["services"]} == {"tradecast", "tradecast-live"}


def test_the_bento_installs_the_pinned_serving_packages_without_torch(bento_dir: Path) -> None:
    lines = (bento_dir / "env" / "python" / "requirements.txt").read_text().splitlines()
    names = {normalise(line.split("==")[0]) for line in lines if "==" in line}
    assert names == {normalise(n) for n in SERVED}
    assert not names & {"torch", "onnx", "onnxscript", "safetensors", "scikit-learn"}
    pins = pinned_dependencies()
    assert all(pins[normalise(line.split("==")[0])] == line for line in lines if "==" in line)


def test_the_committed_requirements_are_generated_and_cover_what_the_service_imports() -> None:
    assert (PROJECT_ROOT / "serving" / "requirements.txt").read_text() == serving_requirements()
    probe = ("import sys, importlib.metadata as md, serving.service, serving.batch\n"
             "dists = md.packages_distributions()\n"
             "print('\\n'.join({d for m in list(sys.modules) for d in dists.get(m, [])}))\n")
    imported = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT,
                              capture_output=True, text=True, check=True).stdout.split()
    pinned = set(pinned_dependencies())
    needed = {normalise(name) for name in imported} & pinned
    assert needed <= {normalise(n) for n in SERVED}, needed - {normalise(n) for n in SERVED}


@pytest.fixture(scope="module")
def bento_server(built, exported_home: Home, sample_home: Home, tmp_path_factory
                 ) -> Iterator[ServerProcess]:
    """`bentoml serve <tag>` over a home holding exported models, as a mounted volume would."""
    bentoml_home, tag = built
    home = make_home(tmp_path_factory.mktemp("bento_home"), exported_home, sample_home,
                     variants=("simplex",))
    port = free_port()
    log = home.root / "bento.log"
    env = bento_env(bentoml_home, TRADECAST_HOME=str(home.root), TRADECAST_WORKERS="1")
    with log.open("a") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bentoml", "serve", tag, "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True, env=env,
            cwd=tmp_path_factory.mktemp("elsewhere"),  # nothing of the checkout around it
        )
    server = ServerProcess(process, f"http://127.0.0.1:{port}", log)
    server.wait_ready()
    yield server
    server.stop()


def test_the_built_bento_serves_a_real_predict(
    bento_server: ServerProcess, bento_dir: Path, sample_home: Home
) -> None:
    bars = BarStore(sample_home.bars_dir).read("AAPL", "1d").iloc[-MIN_BARS:]
    body = {"symbol": "AAPL", "bars": [bar_json(b) for b in bars.itertuples()],
            "variant": "simplex"}
    answer = httpx.post(f"{bento_server.url}/predict", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    forecast = answer.json()
    assert forecast["variant"] == "simplex" and [f["horizon"] for f in forecast["forecasts"]] \
        == [1, 4, 24]
    assert sum(forecast["forecasts"][0][k] for k in ("p_down", "p_flat", "p_up")) \
        == pytest.approx(1, abs=1e-5)
    short = httpx.post(f"{bento_server.url}/predict", json={**body, "bars": body["bars"][:10]})
    assert short.status_code == 422
    # The running service is the Bento's copy of the code, not the checkout's.
    workers = psutil.Process(bento_server.process.pid).children(recursive=True)
    assert workers and {Path(w.cwd()) for w in workers} == {bento_dir / "src"}
