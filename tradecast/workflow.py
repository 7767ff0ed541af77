"""The main job end to end, as README.md's `make run` runs it on a fresh clone.

Each step calls the package that owns it and is skipped when its output is already there, so a
second run starts serving in seconds: import the bundled sample, train the quick profile (only
if no model is exported), export every variant, then start the service, send it a real request
and print the curl command that repeats it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import httpx

from contract.errors import ArtifactError
from contract.home import Home
from marketdata.sample import import_sample
from marketdata.store import BarStore


@contextmanager
def step(title: str, say: Callable[[str], None]) -> Iterator[None]:
    say(f"==> {title}")
    started = time.perf_counter()
    yield
    say(f"    done in {time.perf_counter() - started:.1f} s")


def exported_variants(home: Home) -> list[str]:
    """Variants the manifest lists (none when there is no manifest yet)."""
    from contract.artifacts import manifest_folders

    try:
        return sorted(manifest_folders(home.exported_dir))
    except ArtifactError:
        return []


def prepare_models(home: Home, profile: str, say: Callable[[str], None]) -> None:
    """Train (when no checkpoint exists) and export every variant that is not exported yet."""
    from contract.runs import WEIGHTS_FILE, latest_run
    from training.export import export_variant
    from training.models import VARIANTS
    from training.runs import train_from_cli

    exported = exported_variants(home)
    missing = [v for v in VARIANTS if v not in exported]
    if not missing:
        say(f"    already exported: {', '.join(sorted(VARIANTS))}")
        return
    untrained = [v for v in missing if latest_run(home.checkpoints_dir, v, WEIGHTS_FILE) is None]
    for variant in untrained:
        with step(f"train {variant} (profile {profile})", say):
            train_from_cli(home, variant, profile=profile)
    for variant in missing:
        with step(f"export {variant} to ONNX (with its parity check)", say):
            result = export_variant(variant, home.checkpoints_dir, home.exported_dir)
            diff = result.metadata["parity_max_abs_diff"]
            say(f"    {result.folder} (graph {result.export_s:.1f} s,"
                f" parity {result.parity_s:.1f} s, max |diff| {diff:.1e})")


def run_demo(home: Home, port: int, profile: str, keep_serving: bool,
             say: Callable[[str], None] = print) -> dict:
    """Run the main job; returns the example prediction the live service answered."""
    from serving.examples import curl_example, predict_body
    from serving.launch import ServerProcess

    with step("import the bundled sample bars", say):
        added = import_sample(BarStore(home.bars_dir), progress=True)
        say(f"    {sum(added.values())} new bars ({len(added)} series) in {home.bars_dir}")
    prepare_models(home, profile, say)
    with step(f"start the service on http://127.0.0.1:{port}", say):
        server = ServerProcess.start(home.root, home.root / "serve.log", port=port)
    try:
        url = server.url
        answer = httpx.post(f"{url}/predict", json=predict_body(home), timeout=60)
        answer.raise_for_status()
        prediction = answer.json()
        say("example request (the last 120 AAPL bars of the sample):")
        say(f"  {curl_example(home, url)}")
        say(f"its answer for {prediction['symbol']} after {prediction['timestamp']}"
            f" ({prediction['variant']} {prediction['versions']}):")
        for forecast in prediction["forecasts"]:
            say("  {horizon:>2} bars: p(down/flat/up) {p_down:.2f}/{p_flat:.2f}/{p_up:.2f},"
                " expected return {expected_return:+.4f}, volatility {volatility:.4f}"
                .format(**forecast))
        say(f"  signal: {json.dumps(prediction['signal'])}")
        say(f"dashboard: {url}/ui/")
        say(f"API docs: {url}/   logs: {server.log}")
        if keep_serving:
            say("serving; press Ctrl-C to stop")
            with suppress(KeyboardInterrupt):
                server.process.wait()
        return prediction
    finally:
        server.stop()
