"""Per-series memory of the streaming engine: kernel state, last bar time and values, and the
time conversions its API accepts (kept apart so that :mod:`features.engine` stays readable)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from contract.errors import BarDataError


class SeriesMemory:
    """Kernel memory of one program for many named series (symbols or market series)."""

    def __init__(self, program, width: int) -> None:
        self.program = program
        self.index: dict[str, int] = {}  # name -> column in state and ring
        self.state, self.ring = program.new_memory(0)
        # timestamp (ns; market series: known-at) and values (OHLCV or close) of each last bar
        self.last = np.empty(0, dtype=np.int64)
        self.last_values = np.empty((0, width))

    def add(self, names: list[str]) -> None:
        state, ring = self.program.new_memory(len(names))
        self.state = np.concatenate([self.state, state], axis=1)
        self.ring = np.concatenate([self.ring, ring], axis=1)
        self.last = np.append(self.last, np.full(len(names), np.iinfo(np.int64).min))
        self.last_values = np.concatenate(
            [self.last_values, np.full((len(names), self.last_values.shape[1]), np.nan)])
        for name in names:
            self.index[name] = len(self.index)

    def check_order(self, column: int, stamp: int, values: np.ndarray, name: str) -> bool:
        """True if the bar repeats the last one; raise if it is older or differs from it."""
        last = self.last[column]
        if stamp > last:
            return False
        shown = pd.Timestamp(stamp, tz="UTC")
        if stamp < last:
            raise BarDataError(f"{name}: bar at {shown} is older than the last one "
                               f"({pd.Timestamp(last, tz='UTC')})")
        if not np.array_equal(values, self.last_values[column]):
            raise BarDataError(f"{name}: bar at {shown} differs from the bar already seen then "
                               f"({_shown(self.last_values[column])} before, {_shown(values)} "
                               "now); a bar never changes")
        return True


def _shown(values: np.ndarray) -> str:
    return "/".join(f"{value:g}" for value in values)


def ns_array(times: np.ndarray) -> np.ndarray:
    """int64 ns (or datetime64) times as a contiguous int64 array."""
    times = np.asarray(times)
    if times.dtype.kind == "M":
        times = times.astype("datetime64[ns]").view(np.int64)
    return np.ascontiguousarray(times, dtype=np.int64)


def to_ns(timestamp: object) -> int:
    """A timestamp (int ns, numpy datetime64, datetime, pandas Timestamp or ISO text; naive means
    UTC) as int64 UTC nanoseconds."""
    if isinstance(timestamp, (int, np.integer)):
        return int(timestamp)
    if isinstance(timestamp, pd.Timestamp):
        return int(timestamp.value)
    if isinstance(timestamp, np.datetime64):
        return int(timestamp.astype("datetime64[ns]").astype(np.int64))
    return int(pd.Timestamp(timestamp).value)
