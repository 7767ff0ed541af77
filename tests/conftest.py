"""Fixtures shared by every test package: scratch homes built from the bundled sample data."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.home import SAMPLE_DATA_DIR, Home, resolve_home


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled real bars (copied from ../shared/data, see data/sample/README.md)."""
    return SAMPLE_DATA_DIR


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A scratch home whose bar store holds the whole bundled sample. Treat it as read-only."""
    from features.sample import import_sample
    from features.store import BarStore

    home = resolve_home(tmp_path_factory.mktemp("sample_home"))
    import_sample(BarStore(home.bars_dir))
    return home
