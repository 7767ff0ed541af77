"""The import rule is the architecture (DESIGN.md, "Packages and who may import whom").

Every import statement of every package module (top level, inside functions, under
TYPE_CHECKING alike) is read with ``ast`` and checked against the table; the module graph has no
cycle; and a real interpreter proves the serving image loads neither torch nor training.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.home import PROJECT_ROOT

# Package -> the first-party packages it may import (itself always). DESIGN's table, in order:
# nothing imports upward.
FIRST_PARTY = {
    "contract": set(),
    "marketdata": {"contract"},
    "features": {"contract", "marketdata"},
    "policy": {"contract"},
    "training": {"contract", "marketdata", "features"},
    "serving": {"contract", "marketdata", "features", "policy"},
    "backtest": {"contract", "marketdata", "features", "policy"},
    "scaleout": {"contract", "marketdata", "features", "policy", "training", "serving"},
    "benchmarks": {"contract", "marketdata", "features", "policy", "training", "serving",
                   "scaleout"},
    "tradecast": {"contract", "marketdata", "features", "policy", "training", "serving",
                  "backtest", "scaleout", "benchmarks"},
}
# Third-party libraries a package must never import (the table lists what each may use).
FORBIDDEN = {
    "features": {"torch", "onnx", "onnxruntime", "bentoml", "matplotlib", "pyarrow"},
    "policy": {"pandas", "torch", "onnxruntime", "bentoml"},
    "serving": {"torch", "onnx", "safetensors", "lightgbm", "matplotlib"},
    "backtest": {"torch", "onnx", "onnxruntime", "bentoml"},
    "marketdata": {"torch", "onnx", "onnxruntime", "bentoml"},
}
VENDOR_CLIENTS = {"alpaca", "yfinance", "ccxt", "curl_cffi", "requests", "tenacity"}


def modules() -> dict[str, Path]:
    found = {}
    for package in FIRST_PARTY:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every absolute import in the file, ``from a import b`` as a.b."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)


def violations(name: str, path: Path) -> list[str]:
    """What module ``name`` (in file ``path``) imports against the table, one line each."""
    package, broken = name.split(".")[0], []
    for line, target in imported(path):
        top = target.split(".")[0]
        where = f"{path.name}:{line} ({name}) imports {target}"
        if top in FIRST_PARTY and top != package and top not in FIRST_PARTY[package]:
            broken.append(where)
        if package == "contract" and top not in FIRST_PARTY and top != "__future__" \
                and top not in sys.stdlib_module_names:
            broken.append(f"{where}: contract uses the standard library only")
        if top in FORBIDDEN.get(package, ()):
            broken.append(where)
        if top in VENDOR_CLIENTS and not name.startswith("marketdata.sources"):
            broken.append(f"{where}: vendor clients only in marketdata/sources/")
    return broken


def test_each_package_imports_only_what_its_row_allows() -> None:
    assert [line for name, path in modules().items() for line in violations(name, path)] == []


@pytest.mark.parametrize(("name", "source"), [
    ("serving.bad", "def later():\n    import torch\n"),
    ("serving.bad", "from training.export import export_variant\n"),
    ("contract.bad", "import numpy as np\n"),
    ("features.bad", "from serving.registry import ModelRegistry\n"),
    ("backtest.bad", "import yfinance\n"),
])
def test_the_check_reports_a_forbidden_import(name: str, source: str, tmp_path: Path) -> None:
    """The checker is not vacuous: each kind of forbidden import is reported."""
    path = tmp_path / "bad.py"
    path.write_text(source)
    assert len(violations(name, path)) >= 1


def test_no_import_cycle_between_modules() -> None:
    """Not even a lazy one: a cycle means two modules that are really one."""
    known = modules()

    def resolve(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    graph = {name: {found for _, target in imported(path) if (found := resolve(target))
                    and found != name and not name.startswith(found + ".")}
             for name, path in known.items()}
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = "open"
        for nxt in sorted(graph[name]):
            if state.get(nxt) == "open":
                return [*path, name, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, name])):
                return cycle
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state:
            assert (cycle := visit(name, [])) is None, " -> ".join(cycle)


def test_serving_imports_no_torch_and_no_training() -> None:
    probe = (
        "import sys, serving.service, serving.batch, serving.launch, tradecast.commands.serve\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'training'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, check=True)
    assert result.stdout.strip() == ""
