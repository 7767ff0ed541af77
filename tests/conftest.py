"""Fixtures shared by every test package: scratch homes built from the bundled sample data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contract.artifacts import ALLOW_UNTRAINED_ENV
from contract.home import SAMPLE_DATA_DIR, Home, resolve_home

# The suite exports untrained (random) weights on purpose (`exported_home`) and serves them, in
# process and in the servers it starts; tests of the refusal unset this with monkeypatch.
os.environ[ALLOW_UNTRAINED_ENV] = "1"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled real bars (copied from ../shared/data, see data/sample/README.md)."""
    return SAMPLE_DATA_DIR


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A scratch home whose bar store holds the whole bundled sample. Treat it as read-only."""
    from marketdata.sample import import_sample
    from marketdata.store import BarStore

    home = resolve_home(tmp_path_factory.mktemp("sample_home"))
    import_sample(BarStore(home.bars_dir))
    return home


@pytest.fixture(scope="session")
def exported_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A scratch home with all four variants exported ONCE, untrained (random weights, parity
    checked: `export_untrained`, so the metadata says untrained).

    Feature names come from the feature engine, so serving can feed it real windows.
    Treat it as read-only: copy ``exported_dir`` before changing anything.
    """
    from training.export import default_feature_names, export_untrained, torch_threads
    from training.models import VARIANTS

    home = resolve_home(tmp_path_factory.mktemp("exported_home"))
    names = default_feature_names()
    with torch_threads(1):  # the suite shares the cores: one thread each is faster than two
        for variant in sorted(VARIANTS):
            export_untrained(variant, home.exported_dir, names)
    return home
