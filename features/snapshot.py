"""Save and restore a :class:`~features.engine.StreamingEngine`, so a service resumes where it
stopped without recomputing history.

The file is a NumPy ``.npz`` archive of plain arrays (no pickle, so loading runs no code): the
kernel memory of every symbol and market series, their last timestamps, the recent feature rows,
and a JSON header with the program fingerprints. A snapshot of a different program (the
catalogue changed) is refused rather than misread. Writing goes to a temporary file that is then
renamed, so a crash never leaves half a snapshot.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from contract.errors import ArtifactError

if TYPE_CHECKING:
    from features.engine import StreamingEngine

FORMAT = 2  # bump when the layout below changes (2: the last bar's values; 1 loads with NaN)


def save_engine(engine: StreamingEngine, path: Path) -> Path:
    """Write ``engine`` to ``path`` atomically and return the path."""
    header = {
        "format": FORMAT,
        "program": engine.symbols.program.fingerprint(),
        "context_program": engine.contexts.program.fingerprint(),
        "feature_names": engine.feature_names,
        "window": engine.window_length,
        "max_age_ns": engine.max_age_ns,
    }
    arrays = {
        "header": np.array(json.dumps(header)),
        "symbols": np.array(list(engine.symbols.index), dtype=str),
        "sectors": np.array(engine.sectors, dtype=str),
        "symbol_state": engine.symbols.state,
        "symbol_ring": engine.symbols.ring,
        "symbol_last": engine.symbols.last,
        "symbol_last_values": engine.symbols.last_values,
        "rows": engine.rows,
        "seen": engine.seen,
        "contexts": np.array(list(engine.contexts.index), dtype=str),
        "context_state": engine.contexts.state,
        "context_ring": engine.contexts.ring,
        "context_last": engine.contexts.last,
        "context_last_values": engine.contexts.last_values,
        "context_values": engine.context_values,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        np.savez(file, **arrays)
    os.replace(temporary, path)
    return path


def load_engine(cls: type[StreamingEngine], path: Path) -> StreamingEngine:
    """The engine saved in ``path``; :class:`ArtifactError` if missing, damaged or foreign."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        header = json.loads(str(arrays["header"]))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no engine snapshot here") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ArtifactError(f"{path}: not an engine snapshot ({error})") from None
    engine = cls(window=header["window"], max_age=pd.Timedelta(header["max_age_ns"], "ns"))
    expected = {"format": header.get("format") if header.get("format") in (1, FORMAT) else FORMAT,
                "program": engine.symbols.program.fingerprint(),
                "context_program": engine.contexts.program.fingerprint()}
    for key, value in expected.items():
        if header.get(key) != value:
            raise ArtifactError(
                f"{path}: snapshot {key} {header.get(key)!r} does not match this engine's "
                f"{value!r}; rebuild the state from bars")
    engine.symbols.index = {str(name): i for i, name in enumerate(arrays["symbols"])}
    engine.symbols.state, engine.symbols.ring = arrays["symbol_state"], arrays["symbol_ring"]
    engine.symbols.last = arrays["symbol_last"]
    engine.symbols.last_values = _last_values(arrays, "symbol", engine.symbols.last_values)
    engine.sectors = [str(name) for name in arrays["sectors"]]
    engine.rows, engine.seen = arrays["rows"], arrays["seen"]
    engine.contexts.index = {str(name): i for i, name in enumerate(arrays["contexts"])}
    engine.contexts.state, engine.contexts.ring = arrays["context_state"], arrays["context_ring"]
    engine.contexts.last = arrays["context_last"]
    engine.contexts.last_values = _last_values(arrays, "context", engine.contexts.last_values)
    engine.context_values = arrays["context_values"]
    engine._link_sectors()
    return engine


def _last_values(arrays: dict[str, np.ndarray], kind: str, empty: np.ndarray) -> np.ndarray:
    """The last bars' values; NaN (unknown: a repeat then counts as a conflict) in a format 1
    snapshot, which did not keep them."""
    if f"{kind}_last_values" in arrays:
        return arrays[f"{kind}_last_values"]
    return np.full((len(arrays[f"{kind}_last"]), empty.shape[1]), np.nan)
