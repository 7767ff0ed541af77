"""The feature engine: the catalogue's columns for a whole history or one live bar at a time.

Both modes run the same compiled program (:mod:`features.indicators`):

- :func:`compute_features` (batch) steps one symbol through its whole history;
- :class:`StreamingEngine` keeps every symbol's kernel memory and steps any number of symbols
  by one bar; a service restarts from :meth:`StreamingEngine.snapshot` without recomputing.

So batch and streaming agree by construction; the tests check it on every sample series, with
:func:`features.replay.stream_features` replaying a history through the streaming engine.

Features use ``close`` (split-adjusted as vendors deliver it); ``adj_close`` is ignored. Bars
must pass the one bar validation of :mod:`marketdata.bars` (strictly increasing times, finite
positive prices, consistent OHLC, volume >= 0); anything else is a :class:`BarDataError` naming
the row and field. A bar with zero volume is fine (index bars have none).

Time: calendar features read the bar's open (``timestamp``); market context is joined on
known-at times (``known_at``, see :mod:`marketdata.sessions`), in batch and in streaming alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from contract.errors import ArtifactError, BarDataError, UnknownSymbolError
from contract.model import WINDOW
from features.context import (
    CONTEXT_PROGRAM,
    DEFAULT_MAX_AGE,
    SECTOR,
    bar_times,
    batch_context_inputs,
)
from features.indicators import CONTEXT_SLOTS, INDICATORS, INPUTS, build_program
from features.indicators import stream_step as step
from features.indicators.catalogue import BAR_INPUTS
from features.indicators.kernels import calendar
from features.indicators.stream_step import NewBars, StepOutcome
from features.series_memory import SeriesMemory, ns_array, to_ns
from features.snapshot import EngineState, read_snapshot, write_snapshot

# check_bar_values and BAR_VALUES are imported from here by serving as well: the one rule
from marketdata.bars import BAR_VALUES, check_bar_values, check_closes

PROGRAM = build_program()
STEP_PROGRAM = step.Program(PROGRAM.code, PROGRAM.params, PROGRAM.outputs)
N_INPUTS = len(INPUTS)  # the program's first nodes, in this order
AT_DAY_OF_WEEK, AT_MONTH = INPUTS.index("day_of_week"), INPUTS.index("month")
# live_step's layout: bars, calendar, then per slot its values and flag; the sector slot last
assert INPUTS[: AT_MONTH + 1] == (*BAR_VALUES, "day_of_week", "month")
assert (step.DAY_OF_WEEK_INPUT, step.MONTH_INPUT, step.FIRST_SLOT_INPUT) == (
    AT_DAY_OF_WEEK, AT_MONTH, AT_MONTH + 1)
assert CONTEXT_SLOTS[-1] == SECTOR
DEFAULT_WINDOW = WINDOW  # rows of features kept per symbol for model input


@dataclass(frozen=True)
class FeatureSpec:
    name: str  # column name, lower_snake with the parameter last
    definition: str  # one line, as `tradecast features list` prints it
    warmup: int  # leading NaN rows on a clean series (context present from the start)
    group: str  # price, trend, momentum, volatility, volume, calendar or context
    fill_missing: float | None  # None: NaN is warm-up; a float: context, models use this value
    scale_free: bool  # False: price or volume units (SMA, OBV...), not comparable across symbols


FEATURE_SPECS: dict[str, FeatureSpec] = {
    name: FeatureSpec(name, spec.definition, int(warmup), spec.group, spec.fill_missing,
                      spec.scale_free)
    for (name, spec), warmup in zip(INDICATORS.items(), PROGRAM.warmup[PROGRAM.outputs],
                                    strict=True)
}
MAX_WARMUP = max(spec.warmup for spec in FEATURE_SPECS.values())
FEATURE_INDEX = pd.Index(list(FEATURE_SPECS))  # built once: an Index of strings is not cheap


def feature_names() -> list[str]:
    """Every feature column, in output order."""
    return list(FEATURE_SPECS)


def model_candidates() -> list[str]:
    """The columns a model may be given: the scale-free ones.

    A price-level column (``sma_20`` in dollars, ``obv`` in shares) means something else for a
    $2 and a $200 stock, and one normaliser fitted across symbols and decades cannot fix that;
    its scale-free twin (``close_to_sma_20``, ``natr_14``, ``macd_pct``) carries the information.
    """
    return [name for name, spec in FEATURE_SPECS.items() if spec.scale_free]


def _values(stamps: np.ndarray, bars: np.ndarray, context: np.ndarray,
            steps: int, width: int) -> np.ndarray:
    """Program values with the inputs filled in: bars (n, 5), calendar, context (inputs, n)."""
    block = np.empty((N_INPUTS, len(stamps)))
    block[: len(BAR_VALUES)] = bars.T
    calendar(stamps, block[AT_DAY_OF_WEEK], block[AT_MONTH])
    block[len(BAR_INPUTS):] = context
    vals = PROGRAM.new_values(steps, width)
    vals[:N_INPUTS] = block.reshape(N_INPUTS, steps, width)
    return vals


def bar_values(bars: pd.DataFrame) -> np.ndarray:
    """A bar frame's (bars, 5) OHLCV values, checked by the one bar rule."""
    missing = [name for name in BAR_VALUES if name not in bars.columns]
    if missing:
        raise BarDataError(f"bars: missing column {', '.join(map(repr, missing))}")
    values = bars[list(BAR_VALUES)].to_numpy(dtype=np.float64)
    check_bar_values(values, lambda i: f"bars, row {i}")
    return values


def compute_features(bars: pd.DataFrame, context: Mapping[str, pd.DataFrame] | None = None,
                     *, max_age: pd.Timedelta = DEFAULT_MAX_AGE) -> pd.DataFrame:
    """Every feature for every bar of one symbol: ``timestamp`` plus one float64 column each.

    ``context`` maps ``SPY``, ``QQQ``, ``VIX`` and ``SECTOR`` (any case) to bar frames of those
    series; each is joined as of the bar's known-at time (see :mod:`features.context`).
    """
    values = bar_values(bars)
    stamps, known = bar_times(bars, "bars")
    rows = feature_rows(stamps, values, known, context, max_age=max_age)
    frame = pd.DataFrame(rows, columns=FEATURE_INDEX)
    frame.insert(0, "timestamp", bars["timestamp"].reset_index(drop=True))
    return frame


def feature_rows(stamps: np.ndarray, values: np.ndarray, known: np.ndarray,
                 context: Mapping[str, pd.DataFrame] | None = None,
                 *, max_age: pd.Timedelta = DEFAULT_MAX_AGE) -> np.ndarray:
    """:func:`compute_features` on arrays the caller has already validated (the service's
    request bodies): int64 ns open ``stamps`` and ``known`` times, (bars, 5) OHLCV ``values``;
    (bars, features) float64 rows in :func:`feature_names` order. No frame is built: for a
    request of 120 bars the pandas wrapping cost more than the kernels."""
    context_block = batch_context_inputs(known, context, max_age)
    vals = _values(stamps, values, context_block, len(stamps), 1)
    state, ring = PROGRAM.new_memory(1)
    return PROGRAM.run(vals, state, ring, np.zeros(1, np.int64))[:, :, 0].T


class StreamingEngine:
    """Every symbol's indicator memory; one :meth:`update` per new bar costs microseconds.

    Symbols are added on their first bar (or with :meth:`add_symbol`, to name a sector ETF).
    Market series arrive through :meth:`update_context`, before the bars that should see them:
    a bar only sees context known by its own known-at time (``known_at``; the bar's timestamp
    when not given), and a series whose last bar became known later reads as missing.
    Repeating a symbol's (or a series') last bar returns its row again and changes nothing; an
    older bar, or one at the same time with other values, is a :class:`BarDataError`.
    """

    def __init__(self, window: int = DEFAULT_WINDOW, max_age: pd.Timedelta = DEFAULT_MAX_AGE):
        self.window_length = window  # rows of features kept per symbol
        self.max_age_ns = int(pd.Timedelta(max_age).value)  # context older than this is missing
        self.symbols = SeriesMemory(PROGRAM, len(BAR_VALUES))
        self.contexts = SeriesMemory(CONTEXT_PROGRAM, 1)
        self.sectors: list[str] = []  # sector context name per symbol ("" for none)
        self.sector_column = np.empty(0, dtype=np.int64)  # its context column, -1 if none yet
        self.slot_columns = np.full(len(CONTEXT_SLOTS), -1)  # context column of each slot
        self.context_values = np.empty((len(CONTEXT_PROGRAM.outputs), 0))  # last values
        # ring of recent rows, (window, features, symbols): a step writes along symbols
        self.rows = np.empty((window, len(FEATURE_SPECS), 0))
        self.seen = np.empty(0, dtype=np.int64)  # bars seen per symbol
        self._last_list: tuple[list[str], np.ndarray] = ([], np.empty(0, dtype=np.int64))
        self._scratch = PROGRAM.new_values(1, 0)  # program values of the last step's width
        self._views: tuple | None = None  # the step's views of the tables (None: to rebuild)

    @property
    def feature_names(self) -> list[str]:
        return feature_names()

    def add_symbol(self, symbol: str, sector: str | None = None) -> None:
        """Track ``symbol`` (no-op if tracked) and name the context series of its sector ETF."""
        if symbol not in self.symbols.index:
            self._add_symbols([symbol])
        if sector is not None:
            self.sectors[self.symbols.index[symbol]] = sector.upper()
            self._link_sectors()

    def _add_symbols(self, names: list[str]) -> None:
        """Grow every per-symbol table once for all ``names`` (new, distinct)."""
        self.symbols.add(names)
        self.sectors += [""] * len(names)
        self.rows = np.concatenate([self.rows, np.full((*self.rows.shape[:2], len(names)),
                                                       np.nan)], axis=2)
        self.seen = np.append(self.seen, np.zeros(len(names), dtype=np.int64))
        self._link_sectors()

    def _link_sectors(self) -> None:
        """Refresh the context column each slot (and each symbol's sector) reads; -1 if none.

        Every change that replaces a table (new symbols, new series, a restore) ends here, so
        the step's views of the tables are dropped here too."""
        self._views = None
        self.sector_column = np.array(
            [self.contexts.index.get(name, -1) for name in self.sectors], dtype=np.int64)
        self.slot_columns = np.array(
            [self.contexts.index.get(slot.upper(), -1) for slot in CONTEXT_SLOTS], dtype=np.int64)

    def update_context(self, name: str, timestamp: object, close: float, *,
                       known_at: object | None = None) -> None:
        """Ingest one bar of a market series (``SPY``, ``QQQ``, ``VIX`` or a sector ETF) that
        opened at ``timestamp`` and became known at ``known_at`` (default: ``timestamp``).

        The series' last bar again is ignored; an older one, or one known at the same time with
        another close, is a BarDataError."""
        name = name.upper()
        if self.check_context(name, timestamp, close, known_at=known_at):
            return  # the last bar again
        if name not in self.contexts.index:
            self.contexts.add([name])
            self.context_values = np.concatenate(
                [self.context_values, np.full((self.context_values.shape[0], 1), np.nan)], 1)
            self._link_sectors()
        column = self.contexts.index[name]
        stamp = to_ns(timestamp if known_at is None else known_at)
        program = self.contexts.program
        vals = program.new_values(1, 1)
        vals[program.input_at["close"]] = close
        syms = np.array([column])
        self.context_values[:, column] = program.run(vals, self.contexts.state,
                                                     self.contexts.ring, syms)[:, 0, 0]
        self.contexts.last[column] = stamp
        self.contexts.last_values[column, 0] = close

    def check_context(self, name: str, timestamp: object, close: float, *,
                      known_at: object | None = None) -> bool:
        """What :meth:`update_context` would say, changing nothing: True for the series' last
        bar again, False for a new bar; a BarDataError for a bad, older or conflicting one."""
        name = name.upper()
        closes = np.array([close], dtype=np.float64)
        check_closes(closes, lambda _: f"context {name} at {timestamp}")
        if name not in self.contexts.index:
            return False
        stamp = to_ns(timestamp if known_at is None else known_at)
        return self.contexts.check_order(self.contexts.index[name], stamp, closes,
                                         f"context {name}")

    def update(self, symbol: str, bar: Mapping[str, object]) -> np.ndarray:
        """Ingest one bar (``timestamp``, ``open``, ``high``, ``low``, ``close``, ``volume`` and
        optionally ``known_at``) and return the symbol's feature row."""
        try:
            values = np.array([[bar["open"], bar["high"], bar["low"], bar["close"],
                                bar["volume"]]], dtype=np.float64)
            stamps = np.array([to_ns(bar["timestamp"])])
            known = np.array([to_ns(bar.get("known_at") or bar["timestamp"])])
        except KeyError as error:
            raise BarDataError(f"{symbol}: bar has no {error.args[0]!r}") from None
        except (TypeError, ValueError) as error:
            raise BarDataError(f"{symbol}: bar value is not a number ({error})") from None
        if symbol not in self.symbols.index:
            self._add_symbols([symbol])
        syms = np.array([self.symbols.index[symbol]])
        outcome = self._live_step(NewBars(syms, stamps, known, values))
        return outcome.rows[0] if outcome.status == step.STEPPED else self.update_many(
            [symbol], stamps, values, known_at=known)[0]

    def update_many(self, symbols: Sequence[str], timestamps: np.ndarray, bars: np.ndarray, *,
                    known_at: np.ndarray | None = None) -> np.ndarray:
        """Step several symbols by one bar each: ``timestamps`` (open times, int64 ns or
        datetime64, one per symbol), ``bars`` (symbols, 5) OHLCV and ``known_at`` (when each
        bar became known, the same types; default ``timestamps``). Returns (symbols, features).

        A bad bar (or a bar older than its symbol's last) raises before any state changes.
        """
        syms = self._columns(symbols)
        stamps = ns_array(timestamps)
        known = stamps if known_at is None else ns_array(known_at)
        values = np.ascontiguousarray(bars, dtype=np.float64).reshape(len(syms), len(BAR_VALUES))
        outcome = self._live_step(NewBars(syms, stamps, known, values))
        if outcome.status == step.STEPPED:
            return outcome.rows
        if outcome.status == step.BAD_BAR:
            j = outcome.at
            check_bar_values(values[j : j + 1], lambda _: symbols[j])
        for j in range(len(syms)):  # older bars and same-time bars with other values raise
            self.symbols.check_order(syms[j], stamps[j], values[j], symbols[j])
        # the rest repeat their symbol's last bar: those change nothing and get their last row
        fresh = stamps != self.symbols.last[syms]
        result = self._last_rows(syms)
        if fresh.any():
            chosen = np.flatnonzero(fresh)
            result[fresh] = self.update_many([symbols[j] for j in chosen], stamps[fresh],
                                             values[fresh], known_at=known[fresh])
        return result

    def _columns(self, symbols: Sequence[str]) -> np.ndarray:
        """The symbols' columns, adding new symbols; the last list is remembered, since a live
        service usually steps the same universe bar after bar."""
        symbols = symbols if isinstance(symbols, list) else list(symbols)
        if symbols == self._last_list[0]:
            return self._last_list[1]
        index = self.symbols.index
        new = [symbol for symbol in symbols if symbol not in index]
        if new:
            self._add_symbols(list(dict.fromkeys(new)))
        syms = np.fromiter((index[symbol] for symbol in symbols), np.int64, len(symbols))
        if len(syms) > 1 and len(np.unique(syms)) != len(syms):
            raise BarDataError("update_many: a symbol appears twice in one step")
        self._last_list = (symbols.copy(), syms)
        return syms

    def _live_step(self, new: NewBars) -> StepOutcome:
        if self._scratch.shape[2] != len(new.syms):
            self._scratch = PROGRAM.new_values(1, len(new.syms))
        if self._views is None:
            symbols = self.symbols
            self._views = (
                step.SymbolMemory(symbols.state, symbols.ring, self.rows, self.seen,
                                  symbols.last, symbols.last_values),
                step.ContextView(self.slot_columns, self.sector_column, self.contexts.last,
                                 self.context_values, self.max_age_ns))
        return step.live_step(STEP_PROGRAM, *self._views, new, self._scratch)

    def _last_rows(self, syms: np.ndarray) -> np.ndarray:
        return self.rows[(self.seen[syms] - 1) % self.window_length, :, syms]

    def window(self, symbol: str, length: int = DEFAULT_WINDOW) -> np.ndarray:
        """The symbol's last ``length`` feature rows, oldest first: (length, features), or
        fewer rows while fewer bars have been seen."""
        if symbol not in self.symbols.index:
            raise UnknownSymbolError(f"{symbol}: no bars streamed for this symbol")
        if not 0 < length <= self.window_length:
            raise ValueError(f"window length {length} must be in 1..{self.window_length}")
        column = self.symbols.index[symbol]
        seen = int(self.seen[column])
        start = seen - min(length, seen)
        order = np.arange(start, seen) % self.window_length
        return self.rows[order, :, column]

    def snapshot(self, path: str | Path) -> Path:
        """Write the whole engine state to ``path`` (an ``.npz`` file, written atomically)."""
        return write_snapshot(Path(path), self.state())

    @classmethod
    def restore(cls, path: str | Path) -> StreamingEngine:
        """An engine in the state :meth:`snapshot` saved (`ArtifactError` if foreign)."""
        return cls.from_state(read_snapshot(Path(path)), where=str(path))

    def state(self) -> EngineState:
        """The engine's memory as plain arrays (shared, not copied: write it out, then step)."""
        symbols, contexts = self.symbols, self.contexts
        return EngineState(
            window=self.window_length, max_age_ns=self.max_age_ns,
            program=symbols.program.fingerprint(), context_program=contexts.program.fingerprint(),
            feature_names=self.feature_names, symbols=list(symbols.index), sectors=self.sectors,
            symbol_state=symbols.state, symbol_ring=symbols.ring, symbol_last=symbols.last,
            symbol_last_values=symbols.last_values, rows=self.rows, seen=self.seen,
            contexts=list(contexts.index), context_state=contexts.state,
            context_ring=contexts.ring, context_last=contexts.last,
            context_last_values=contexts.last_values, context_values=self.context_values)

    @classmethod
    def from_state(cls, state: EngineState, where: str = "snapshot") -> StreamingEngine:
        """An engine resuming from ``state``; `ArtifactError` when it belongs to another
        catalogue (its program fingerprints differ from this code's)."""
        engine = cls(window=state.window, max_age=pd.Timedelta(state.max_age_ns, "ns"))
        for key, memory in (("program", engine.symbols), ("context_program", engine.contexts)):
            if getattr(state, key) != memory.program.fingerprint():
                raise ArtifactError(
                    f"{where}: snapshot {key} {getattr(state, key)!r} does not match this "
                    f"engine's {memory.program.fingerprint()!r}; rebuild the state from bars")
        for memory, kind, names in ((engine.symbols, "symbol", state.symbols),
                                    (engine.contexts, "context", state.contexts)):
            memory.index = {name: i for i, name in enumerate(names)}
            memory.state, memory.ring = getattr(state, f"{kind}_state"), getattr(state,
                                                                                 f"{kind}_ring")
            memory.last = getattr(state, f"{kind}_last")
            memory.last_values = getattr(state, f"{kind}_last_values")
        engine.sectors = list(state.sectors)
        engine.rows, engine.seen = state.rows, state.seen
        engine.context_values = state.context_values
        engine._link_sectors()
        return engine
