"""Market context: SPY, QQQ, VIX and the symbol's sector ETF, joined as of each bar's time.

Each market series runs its own small program (:func:`build_context_program`: last return,
20-bar momentum, level) on its own bars. The join compares **known-at** times
(:mod:`marketdata.sessions`): a symbol's bar known at ``t`` (its end) sees the values of the
series' latest bar known at or before ``t``, provided that bar became known at most ``max_age``
before; otherwise the values are NaN and the ``*_available`` input is 0. Nothing is filled
forward from a later bar, so VIX before 2014 and SPY before 2008 read as missing.

So any timeframes mix: a 1-minute bar at 10:00 New York sees the previous session's daily SPY
close until today's session closes at 16:00 (13:00 on an early close); a daily bar sees the last
hourly context bar that ended by its close; a daily crypto bar (ending 24:00 UTC) sees the
same day's stock close, a daily stock bar yesterday's crypto day.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from contract.errors import BarDataError
from features.indicators import CONTEXT_SLOTS, CONTEXT_VALUES, build_context_program
from marketdata.bars import check_bar_times, check_bar_values, check_closes, check_known_at
from marketdata.sessions import known_at_ns

CONTEXT_PROGRAM = build_context_program()
DEFAULT_MAX_AGE = pd.Timedelta(days=4)  # a Friday bar still counts on Tuesday after a holiday
SECTOR = "sector"  # the slot whose series depends on the symbol (its sector ETF)
# The market series every symbol's features join (the one place they are named): the engine's
# context slots but the sector. Training, batch signals and the dashboard read these from the
# store; each symbol's sector ETF comes from its universe entry.
MARKET_CONTEXT = tuple(slot.upper() for slot in CONTEXT_SLOTS if slot != SECTOR)
NEVER = np.iinfo(np.int64).max  # the stamp of a context bar that does not exist


def context_slot(name: str) -> str:
    """The slot a context key names: ``SPY``, ``QQQ``, ``VIX`` or ``SECTOR`` (any case)."""
    slot = name.strip().lower()
    if slot not in CONTEXT_SLOTS:
        known = ", ".join(s.upper() for s in CONTEXT_SLOTS)
        raise BarDataError(f"unknown market context {name!r}; use one of {known}")
    return slot


def context_history(bars: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A market series' known-at times (int64 ns) and values (``CONTEXT_VALUES``, bars) in batch.

    Full OHLCV bars get the whole bar validation; close-only points (as the HTTP API takes
    them) the check of their close."""
    origin = f"context {name}"
    _, known = bar_times(bars, origin)
    close = bars["close"].to_numpy(dtype=np.float64)
    if all(column in bars.columns for column in ("open", "high", "low", "volume")):
        check_bar_values(bars[["open", "high", "low", "close", "volume"]].to_numpy(np.float64),
                         lambda i: f"{origin}, row {i}")
    else:
        check_closes(close, lambda i: f"{origin}, row {i}")
    vals = CONTEXT_PROGRAM.new_values(len(close), 1)
    vals[CONTEXT_PROGRAM.input_at["close"], :, 0] = close
    state, ring = CONTEXT_PROGRAM.new_memory(1)
    return known, CONTEXT_PROGRAM.run(vals, state, ring, np.zeros(1, np.int64))[:, :, 0]


def latest_as_of(last: np.ndarray, values: np.ndarray, at: np.ndarray,
                 max_age_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Context seen by bars known at ``at``, given each one's candidate context bar.

    ``last`` (known-at times, int64 ns) and ``values`` (values, bars) are, per bar, the context
    bar to use. It counts only if known by the bar's end and at most ``max_age_ns`` before it;
    otherwise the values are NaN. Returns the values and the availability flags (1.0 / 0.0).
    """
    fresh = (last <= at) & (at - last <= max_age_ns)
    return np.where(fresh, values, np.nan), fresh.astype(np.float64)


def as_of(stamps: np.ndarray, values: np.ndarray, at: np.ndarray,
          max_age_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Batch join: for each time in ``at``, the latest bar of a context history known by then.

    ``stamps`` (sorted known-at times, int64 ns) and ``values`` (values, bars) are the
    context's history.
    """
    row = np.searchsorted(stamps, at, side="right") - 1
    last = np.full(len(at), NEVER)
    chosen = np.full((values.shape[0], len(at)), np.nan)
    found = row >= 0
    last[found] = stamps[row[found]]
    chosen[:, found] = values[:, row[found]]
    return latest_as_of(last, chosen, at, max_age_ns)


def timestamps_ns(bars: pd.DataFrame, origin: str) -> np.ndarray:
    """UTC open times as int64 ns, checked to be strictly increasing (sorted, no repeats)."""
    if "timestamp" not in bars.columns:
        raise BarDataError(f"{origin}: missing column 'timestamp'")
    column = bars["timestamp"]
    if not isinstance(column.dtype, pd.DatetimeTZDtype):
        raise BarDataError(f"{origin}: timestamp must be datetime64[ns, UTC], not {column.dtype}")
    stamps = column.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").to_numpy("int64")
    check_bar_times(stamps, lambda i: f"{origin}, row {i}")
    return stamps


def bar_times(bars: pd.DataFrame, origin: str) -> tuple[np.ndarray, np.ndarray]:
    """Open and known-at times (int64 ns), both checked (:func:`marketdata.bars.check_known_at`)."""
    stamps = timestamps_ns(bars, origin)
    known = known_at_ns(bars, origin)
    check_known_at(stamps, known, lambda i: f"{origin}, row {i}")
    return stamps, known


def batch_context_inputs(at: np.ndarray, context: Mapping[str, pd.DataFrame] | None,
                         max_age: pd.Timedelta) -> np.ndarray:
    """The context inputs of bars known at ``at``: (slots * (values + 1), bars), in the order of
    ``CONTEXT_INPUTS``. Slots without a series read as missing."""
    given = {context_slot(name): (name, frame) for name, frame in (context or {}).items()}
    block = np.empty((len(CONTEXT_SLOTS), len(CONTEXT_VALUES) + 1, len(at)))
    block[:, :-1], block[:, -1] = np.nan, 0.0  # what `as_of` gives a slot with no history
    for i, slot in enumerate(CONTEXT_SLOTS):
        if slot in given:
            stamps, values = context_history(given[slot][1], given[slot][0])
            block[i, :-1], block[i, -1] = as_of(stamps, values, at, max_age.value)
    return block.reshape(-1, len(at))
