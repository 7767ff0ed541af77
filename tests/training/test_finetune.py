"""Online fine-tuning: a run continues on newer bars and is exported only if not worse."""

from __future__ import annotations

import json
import shutil

import pytest

from contract.errors import ArtifactError
from contract.home import resolve_home
from marketdata.store import BarStore
from training.config import load_profile
from training.finetune import DECISION_FILE, finetune, settle
from training.runs import read_summary, train_run

PROFILE = load_profile("tiny")
CUT = "2015-12-31"  # the first run only sees bars up to here


@pytest.fixture(scope="module")
def grown_home(sample_home, tmp_path_factory):
    """A home trained on bars up to CUT, to which the later bars then arrive."""
    home = resolve_home(tmp_path_factory.mktemp("finetune_home"))
    sample, store = BarStore(sample_home.bars_dir), BarStore(home.bars_dir)
    symbols = [*PROFILE.data.symbols, "VIX"]
    for symbol in symbols:
        store.write(symbol, "1d", sample.read(symbol, end=CUT))
    first_run = train_run(home, "simplex", PROFILE, progress=False)
    for symbol in symbols:
        store.write(symbol, "1d", sample.read(symbol))
    return home, first_run, finetune(home, first_run.name, epochs=2, progress=False)


def test_finetuning_continues_on_new_bars_and_exports_only_if_not_worse(grown_home) -> None:
    home, first_run, outcome = grown_home
    old, new = read_summary(first_run), read_summary(outcome.new_run)
    assert old["data_span"]["end"] <= f"{CUT}T23:59:59"
    assert new["data_span"]["end"] > old["data_span"]["end"]
    assert new["validation_span"]["start"] > old["validation_span"]["start"]  # newest fold
    features = json.loads((outcome.new_run / "features.json").read_text())
    assert features == json.loads((first_run / "features.json").read_text())  # same inputs

    decision = json.loads((outcome.new_run / DECISION_FILE).read_text())
    assert decision["accepted"] == (outcome.tuned_val_loss <= outcome.current_val_loss)
    assert decision["accepted"] == outcome.accepted == (outcome.exported is not None)


@pytest.mark.parametrize("better", [True, False])
def test_a_candidate_is_exported_only_if_not_worse(grown_home, tmp_path, better: bool) -> None:
    """Both sides of the decision, whatever the fixture's own run decided: a trained candidate
    (the first run's weights) settled with a lower, then a higher, loss than the current one."""
    _, first_run, _ = grown_home
    home = resolve_home(tmp_path / "home")
    candidate = home.checkpoints_dir / "simplex" / f"{first_run.name}-ft"
    shutil.copytree(first_run, candidate)
    outcome = settle(home, first_run, candidate, current_loss=1.0,
                     tuned_loss=0.9 if better else 1.1)
    manifest = home.exported_dir / "manifest.json"
    decision = json.loads((candidate / DECISION_FILE).read_text())
    assert decision["accepted"] is outcome.accepted is better
    if better:
        metadata = json.loads((outcome.exported / "metadata.json").read_text())
        assert metadata["checkpoint"] == str(candidate) and metadata["untrained"] is False
        assert metadata["training_span"] == read_summary(candidate)["training_span"]
        assert json.loads(manifest.read_text())["variants"]["simplex"]["version"] == (
            outcome.exported.name)
        assert (candidate / "model.safetensors").exists()
    else:
        assert outcome.exported is None and not manifest.exists()
        assert not (candidate / "model.safetensors").exists()  # never exported later


def test_finetuning_without_new_bars_is_refused(grown_home) -> None:
    home, _, outcome = grown_home
    with pytest.raises(ArtifactError, match="no bars after"):
        finetune(home, outcome.new_run.name, epochs=1, progress=False)
