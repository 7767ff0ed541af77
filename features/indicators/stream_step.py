"""The streaming hot path: one new bar for each of many symbols, compiled end to end.

:func:`live_step` takes small named structures (what the program is, the symbols' memory, the
market context it may read, the new bars) and returns a :class:`StepOutcome` whose ``status``
is one of the named outcomes below. The compiled kernel underneath takes the structures' fields
flat, in field order: numba checks the type of every tuple argument on every call, which costs
microseconds on a path that takes about ten per bar.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from features.indicators.kernels import calendar, run_program
from marketdata.bars import bar_ok

# The program's input layout (the catalogue's INPUTS; the engine asserts it): the bar's OHLCV,
# day of week and month, then per context slot its values and an availability flag.
N_BAR_VALUES = 5
DAY_OF_WEEK_INPUT, MONTH_INPUT = 5, 6
FIRST_SLOT_INPUT = 7

# StepOutcome.status: what the step found (nothing changes unless it is STEPPED).
STEPPED = 0  # every symbol stepped; ``rows`` are their new feature rows
BAD_BAR = 1  # bar ``at`` breaks the bar rule (marketdata.bars.bar_ok)
OLDER = 2  # bar ``at`` is older than its symbol's last bar
SAME_TIME = 3  # bar ``at`` has its symbol's last time: a repeat or a conflict, the caller decides


class Program(NamedTuple):
    code: np.ndarray  # the compiled nodes (features.indicators.program)
    params: np.ndarray  # their parameters
    outputs: np.ndarray  # the nodes whose values are the feature columns, in order


class SymbolMemory(NamedTuple):
    state: np.ndarray  # kernel state (slots, symbols)
    ring: np.ndarray  # kernel ring buffers (rows, symbols)
    rows: np.ndarray  # recent feature rows (window, features, symbols), a ring
    seen: np.ndarray  # bars seen per symbol
    last: np.ndarray  # last bar's open time per symbol (ns)
    last_bars: np.ndarray  # last bar's OHLCV per symbol


class ContextView(NamedTuple):
    slot_columns: np.ndarray  # context column of each slot (-1: none yet); the last is unused
    sector_column: np.ndarray  # per symbol, the column of its sector ETF (-1: none)
    last: np.ndarray  # known-at time of each context series' last bar (ns)
    values: np.ndarray  # each series' last context program outputs (values, series)
    max_age: int  # a context bar older than this (ns) before the bar's known-at is missing


class NewBars(NamedTuple):
    syms: np.ndarray  # the symbols' columns
    stamps: np.ndarray  # open times (ns): calendar features and order
    known: np.ndarray  # known-at times (ns): the context join
    bars: np.ndarray  # (symbols, 5) OHLCV


class StepOutcome(NamedTuple):
    status: int  # STEPPED, BAD_BAR, OLDER or SAME_TIME
    at: int  # the bar at fault (0 when STEPPED)
    rows: np.ndarray  # (symbols, features) when STEPPED, else empty


def live_step(program: Program, memory: SymbolMemory, context: ContextView, new: NewBars,
              vals: np.ndarray) -> StepOutcome:
    """Step every symbol of ``new`` by its bar; checks every bar first and changes nothing
    unless all pass.

    ``vals`` is scratch room for the program's values, (nodes, 1, symbols), reused between
    steps. A context bar counts only if known by the bar's known-at time and at most
    ``max_age`` before (``features.context``); the last slot is the symbol's sector.
    """
    return StepOutcome(*_step(*program, *memory, *context, *new, vals))


@njit(cache=True, error_model="numpy")
def _step(code, params, outputs,  # Program
          state, ring, rows, seen, last, last_bars,  # SymbolMemory
          slot_columns, sector_column, context_last, context_values, max_age,  # ContextView
          syms, stamps, known, bars,  # NewBars
          vals):
    """:func:`live_step` compiled: the structures' fields in order; returns its outcome's."""
    width = syms.shape[0]
    for j in range(width):
        s = syms[j]
        if not bar_ok(bars[j, 0], bars[j, 1], bars[j, 2], bars[j, 3], bars[j, 4]):
            return BAD_BAR, j, np.empty((0, 0))
        if stamps[j] < last[s]:
            return OLDER, j, np.empty((0, 0))
        if stamps[j] == last[s]:
            return SAME_TIME, j, np.empty((0, 0))
    per_slot = context_values.shape[0] + 1  # the values, then the availability flag
    slots = slot_columns.shape[0]
    for j in range(width):
        s = syms[j]
        for f in range(N_BAR_VALUES):
            vals[f, 0, j] = bars[j, f]
        for slot in range(slots):
            column = sector_column[s] if slot == slots - 1 else slot_columns[slot]
            first = FIRST_SLOT_INPUT + slot * per_slot
            fresh = (column >= 0 and context_last[column] <= known[j]
                     and known[j] - context_last[column] <= max_age)
            for v in range(per_slot - 1):
                vals[first + v, 0, j] = context_values[v, column] if fresh else np.nan
            vals[first + per_slot - 1, 0, j] = 1.0 if fresh else 0.0
    calendar(stamps, vals[DAY_OF_WEEK_INPUT, 0], vals[MONTH_INPUT, 0])
    run_program(code, params, state, ring, vals, syms)
    # rows is (window, outputs, symbols): each output's values are copied along symbols
    result = np.empty((outputs.shape[0], width))  # written along symbols, returned transposed
    at = np.empty(width, dtype=np.int64)
    for j in range(width):
        at[j] = seen[syms[j]] % rows.shape[0]
    for f in range(outputs.shape[0]):
        for j in range(width):
            result[f, j] = rows[at[j], f, syms[j]] = vals[outputs[f], 0, j]
    for j in range(width):
        seen[syms[j]] += 1
        last[syms[j]] = stamps[j]
        for f in range(N_BAR_VALUES):
            last_bars[syms[j], f] = bars[j, f]
    return STEPPED, 0, result.T
