"""Joining Ray: the cluster RAY_ADDRESS names, or a local one started on this machine."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from contract.errors import TradecastError
from contract.home import PROJECT_ROOT

# What a cluster's workers need of the checkout: the code, not data, weights or the venv.
UPLOAD_EXCLUDES = [".git", ".venv", "data", "checkpoints", "exported_models", "tests",
                   "**/node_modules", "**/__pycache__", "*.onnx", "*.safetensors", "*.parquet"]


def connect(num_cpus: int | None = None) -> None:
    """Start or join Ray once per process.

    With RAY_ADDRESS set (e.g. ``ray://head:10001`` or ``auto``), join that cluster and ship the
    checkout's code to its workers (they need the same packages installed: `pip install
    tradecast[ray]`); the home folder must then be a path every node sees (shared storage).
    Without it, start a local Ray on ``num_cpus`` cores (default: all of them).
    """
    ray = require_ray()
    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, runtime_env={"working_dir": str(PROJECT_ROOT),
                                               "excludes": UPLOAD_EXCLUDES})
    else:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False)


def cluster_cpus() -> int:
    """CPUs of the Ray cluster this process is connected to."""
    return int(require_ray().cluster_resources().get("CPU", 1))


def require_ray() -> ModuleType:
    """The `ray` module, or a clear error when the optional extra is not installed."""
    try:
        return importlib.import_module("ray")
    except ModuleNotFoundError as error:
        raise TradecastError("--engine ray needs Ray: pip install -e '.[ray]'") from error
