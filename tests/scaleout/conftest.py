"""Ray on this machine for the scale-out tests: two CPUs, no dashboard, one per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    ray = pytest.importorskip("ray")  # the `tradecast[ray]` extra; `make test` installs it
    ray.init(address="local", num_cpus=2, include_dashboard=False)  # never a stray cluster
    yield
    ray.shutdown()
