"""Engine snapshots on disk: a :class:`EngineState` of plain arrays <-> one ``.npz`` file.

The file is a NumPy ``.npz`` archive (no pickle, so loading runs no code): the kernel memory of
every symbol and market series, their last timestamps and values, the recent feature rows, and
a JSON header with the program fingerprints. This module knows the file, not the engine: the
engine hands over and takes back an :class:`EngineState` (``StreamingEngine.state`` /
``StreamingEngine.from_state``) and refuses a state of another program. Writing goes through
the contract's atomic file, so a crash never leaves half a snapshot.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from contract.errors import ArtifactError
from contract.files import atomic_file
from marketdata.bars import BAR_VALUES

FORMAT = 2  # bump when the layout below changes (2: the last bar's values; 1 loads with NaN)


@dataclass(frozen=True)
class EngineState:
    """Everything a streaming engine needs to resume, as plain values and arrays."""

    window: int  # feature rows kept per symbol
    max_age_ns: int  # context older than this is missing
    program: str  # fingerprint of the symbol program the memory belongs to
    context_program: str  # fingerprint of the market-series program
    feature_names: list[str]  # the engine's columns, in order
    symbols: list[str]  # symbol names, in column order
    sectors: list[str]  # sector context name per symbol ("" for none)
    symbol_state: np.ndarray  # kernel state (slots, symbols)
    symbol_ring: np.ndarray  # kernel ring buffers
    symbol_last: np.ndarray  # last bar time per symbol (ns)
    symbol_last_values: np.ndarray  # last bar OHLCV per symbol (NaN: unknown, format 1)
    rows: np.ndarray  # ring of recent feature rows (window, features, symbols)
    seen: np.ndarray  # bars seen per symbol
    contexts: list[str]  # market series names, in column order
    context_state: np.ndarray
    context_ring: np.ndarray
    context_last: np.ndarray  # last known-at time per series (ns)
    context_last_values: np.ndarray  # last close per series
    context_values: np.ndarray  # last context program outputs per series


HEADER = ("window", "max_age_ns", "program", "context_program", "feature_names")
NAMES = ("symbols", "sectors", "contexts")  # string lists, stored as string arrays


def write_snapshot(path: Path, state: EngineState) -> Path:
    """Write ``state`` to ``path`` atomically and return the path."""
    header = {"format": FORMAT, **{key: getattr(state, key) for key in HEADER}}
    arrays = {"header": np.array(json.dumps(header))}
    for field in fields(EngineState):
        if field.name in NAMES:
            arrays[field.name] = np.array(getattr(state, field.name), dtype=str)
        elif field.name not in HEADER:
            arrays[field.name] = getattr(state, field.name)
    with atomic_file(path) as file:
        np.savez(file, **arrays)
    return path


def read_snapshot(path: Path) -> EngineState:
    """The state saved in ``path``; :class:`ArtifactError` if missing, damaged or of a format
    this code does not read."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        header = json.loads(str(arrays["header"]))
        if header.get("format") not in (1, FORMAT):
            raise ArtifactError(f"{path}: snapshot format {header.get('format')!r} does not "
                                f"match this engine's {FORMAT!r}; rebuild the state from bars")
        values = {key: header[key] for key in HEADER}
        for field in fields(EngineState):
            if field.name in NAMES:
                values[field.name] = [str(name) for name in arrays[field.name]]
            elif field.name.endswith("_last_values") and field.name not in arrays:
                # format 1 did not keep the last bars: NaN (a repeat then counts as a conflict)
                kind = field.name.removesuffix("_last_values")
                width = len(BAR_VALUES) if kind == "symbol" else 1  # OHLCV, or a close
                values[field.name] = np.full((len(arrays[f"{kind}_last"]), width), np.nan)
            elif field.name not in HEADER:
                values[field.name] = arrays[field.name]
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no engine snapshot here") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ArtifactError(f"{path}: not an engine snapshot ({error})") from None
    return EngineState(**values)
