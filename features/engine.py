"""The feature engine: the catalogue's columns for a whole history or one live bar at a time.

Both modes run the same compiled program (:mod:`features.indicators`):

- :func:`compute_features` (batch) steps one symbol through its whole history;
- :class:`StreamingEngine` keeps every symbol's kernel memory and steps any number of symbols
  by one bar; a service restarts from :meth:`StreamingEngine.snapshot` without recomputing.

So batch and streaming agree by construction; the tests check it on every sample series.

Features use ``close`` (split-adjusted as vendors deliver it); ``adj_close`` is ignored. Bars
must be clean: strictly increasing timestamps and finite, positive prices with a non-negative
volume (:func:`features.bars.validate_bars` makes them so); anything else is a
:class:`BarDataError` naming the row. A bar with zero volume is fine (index bars have none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.context import (
    CONTEXT_PROGRAM,
    DEFAULT_MAX_AGE,
    NEVER,
    SECTOR,
    batch_context_inputs,
    context_slot,
    latest_as_of,
    timestamps_ns,
)
from features.errors import BarDataError, UnknownSymbolError
from features.indicators import CONTEXT_SLOTS, CONTEXT_VALUES, INDICATORS, INPUTS, build_program
from features.indicators.catalogue import BAR_INPUTS
from features.indicators.kernels import calendar

BAR_VALUES = ("open", "high", "low", "close", "volume")
PROGRAM = build_program()
N_INPUTS = len(INPUTS)  # the program's first nodes, in this order
AT_DAY_OF_WEEK, AT_MONTH = INPUTS.index("day_of_week"), INPUTS.index("month")
# Context inputs with no market series at all: values NaN, availability 0.
MISSING_CONTEXT = np.tile(np.r_[np.full(len(CONTEXT_VALUES), np.nan), 0.0], len(CONTEXT_SLOTS))
DEFAULT_WINDOW = 60  # rows of features kept per symbol for model input


@dataclass(frozen=True)
class FeatureSpec:
    name: str  # column name, lower_snake with the parameter last
    definition: str  # one line, as `tradecast features list` prints it
    warmup: int  # leading NaN rows on a clean series (context present from the start)
    group: str  # price, trend, momentum, volatility, volume, calendar or context
    fill_missing: float | None  # None: NaN is warm-up; a float: context, models use this value


FEATURE_SPECS: dict[str, FeatureSpec] = {
    name: FeatureSpec(name, spec.definition, int(warmup), spec.group, spec.fill_missing)
    for (name, spec), warmup in zip(INDICATORS.items(), PROGRAM.warmup[PROGRAM.outputs],
                                    strict=True)
}
MAX_WARMUP = max(spec.warmup for spec in FEATURE_SPECS.values())


def feature_names() -> list[str]:
    """Every feature column, in output order."""
    return list(FEATURE_SPECS)


def check_bar_values(values: np.ndarray, where: Sequence[object]) -> None:
    """Refuse NaN, inf, non-positive prices and negative volume in (bars, 5) OHLCV rows."""
    if np.isfinite(values).all() and values[:, :4].min() > 0 and values[:, 4].min() >= 0:
        return
    prices, volume = values[:, :4], values[:, 4]
    bad = ~(np.isfinite(prices).all(axis=1) & (prices > 0).all(axis=1)
            & np.isfinite(volume) & (volume >= 0))
    i = int(np.argmax(bad))
    shown = ", ".join(f"{name}={value:g}" for name, value in zip(BAR_VALUES, values[i],
                                                                 strict=True))
    raise BarDataError(f"{where[i]}: bar needs finite prices > 0 and volume >= 0 ({shown})")


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


def _bar_values(bars: pd.DataFrame) -> np.ndarray:
    missing = [name for name in BAR_VALUES if name not in bars.columns]
    if missing:
        raise BarDataError(f"bars: missing column {', '.join(map(repr, missing))}")
    values = bars[list(BAR_VALUES)].to_numpy(dtype=np.float64)
    check_bar_values(values, [f"bars, row {i}" for i in range(len(values))])
    return values


def compute_features(bars: pd.DataFrame, context: Mapping[str, pd.DataFrame] | None = None,
                     *, max_age: pd.Timedelta = DEFAULT_MAX_AGE) -> pd.DataFrame:
    """Every feature for every bar of one symbol: ``timestamp`` plus one float64 column each.

    ``context`` maps ``SPY``, ``QQQ``, ``VIX`` and ``SECTOR`` (any case) to bar frames of those
    series; each is joined as of the bar's time (see :mod:`features.context`).
    """
    values = _bar_values(bars)
    stamps = timestamps_ns(bars, "bars")
    context_block = batch_context_inputs(stamps, context, max_age)
    vals = _values(stamps, values, context_block, len(stamps), 1)
    state, ring = PROGRAM.new_memory(1)
    outputs = PROGRAM.run(vals, state, ring, np.zeros(1, np.int64))[:, :, 0]
    frame = pd.DataFrame(outputs.T, columns=feature_names())
    frame.insert(0, "timestamp", bars["timestamp"].to_numpy())
    return frame


def stream_features(bars: pd.DataFrame, context: Mapping[str, pd.DataFrame] | None = None,
                    *, max_age: pd.Timedelta = DEFAULT_MAX_AGE) -> pd.DataFrame:
    """The same frame as :func:`compute_features`, built one bar at a time by the streaming engine.

    Context bars are fed first whenever they are stamped at or before the next bar: the order in
    which a live service receives them.
    """
    engine = StreamingEngine(max_age=max_age)
    symbol = "SYMBOL"
    events: list[tuple[int, int, str, float]] = []  # (time, context first, name, close)
    for name, frame in (context or {}).items():
        slot = context_slot(name)
        name = slot.upper()
        if slot == SECTOR:
            engine.add_symbol(symbol, sector=name)
        closes = frame["close"].to_numpy(dtype=np.float64)
        events += [(int(t), 0, name, c) for t, c in
                   zip(timestamps_ns(frame, f"context {name}"), closes, strict=True)]
    values = _bar_values(bars)
    stamps = timestamps_ns(bars, "bars")
    events += [(int(t), 1, "", float(i)) for i, t in enumerate(stamps)]
    rows = np.empty((len(stamps), len(FEATURE_SPECS)))
    for stamp, is_bar, name, value in sorted(events):
        if is_bar:
            i = int(value)
            rows[i] = engine.update_many([symbol], stamps[i : i + 1], values[i : i + 1])[0]
        else:
            engine.update_context(name, stamp, value)
    frame = pd.DataFrame(rows, columns=feature_names())
    frame.insert(0, "timestamp", bars["timestamp"].to_numpy())
    return frame


class StreamingEngine:
    """Every symbol's indicator memory; one :meth:`update` per new bar costs microseconds.

    Symbols are added on their first bar (or with :meth:`add_symbol`, to name a sector ETF).
    Market series arrive through :meth:`update_context`, before the bars that should see them:
    a bar only sees context stamped at or before it, and a series whose last bar is newer than
    the bar reads as missing. Repeating a symbol's last bar returns its row again and changes
    nothing; an older bar is a :class:`BarDataError`.
    """

    def __init__(self, window: int = DEFAULT_WINDOW, max_age: pd.Timedelta = DEFAULT_MAX_AGE):
        self.window_length = window  # rows of features kept per symbol
        self.max_age_ns = int(pd.Timedelta(max_age).value)  # context older than this is missing
        self.symbols = _Series(PROGRAM)
        self.contexts = _Series(CONTEXT_PROGRAM)
        self.sectors: list[str] = []  # sector context name per symbol ("" for none)
        self.sector_column = np.empty(0, dtype=np.int64)  # its context column, -1 if none yet
        self.context_values = np.empty((len(CONTEXT_PROGRAM.outputs), 0))  # last values
        self.rows = np.empty((0, window, len(FEATURE_SPECS)))  # ring of recent rows
        self.seen = np.empty(0, dtype=np.int64)  # bars seen per symbol

    @property
    def feature_names(self) -> list[str]:
        return feature_names()

    def add_symbol(self, symbol: str, sector: str | None = None) -> None:
        """Track ``symbol`` (no-op if tracked) and name the context series of its sector ETF."""
        if symbol not in self.symbols.index:
            self.symbols.add(symbol)
            self.sectors.append("")
            self.rows = np.concatenate([self.rows, np.full((1, *self.rows.shape[1:]), np.nan)])
            self.seen = np.append(self.seen, 0)
        if sector is not None:
            self.sectors[self.symbols.index[symbol]] = sector.upper()
        self._link_sectors()

    def _link_sectors(self) -> None:
        self.sector_column = np.array(
            [self.contexts.index.get(name, -1) for name in self.sectors], dtype=np.int64)

    def update_context(self, name: str, timestamp: object, close: float) -> None:
        """Ingest one bar of a market series (``SPY``, ``QQQ``, ``VIX`` or a sector ETF)."""
        name = name.upper()
        if name not in self.contexts.index:
            self.contexts.add(name)
            self.context_values = np.concatenate(
                [self.context_values, np.full((self.context_values.shape[0], 1), np.nan)], 1)
            self._link_sectors()
        column = self.contexts.index[name]
        stamp = to_ns(timestamp)
        self.contexts.check_order(column, stamp, f"context {name}")
        if stamp == self.contexts.last[column]:
            return
        if not (np.isfinite(close) and close > 0):
            raise BarDataError(f"context {name} at {timestamp}: close {close} must be positive")
        program = self.contexts.program
        vals = program.new_values(1, 1)
        vals[program.input_at["close"]] = close
        syms = np.array([column])
        self.context_values[:, column] = program.run(vals, self.contexts.state,
                                                     self.contexts.ring, syms)[:, 0, 0]
        self.contexts.last[column] = stamp

    def update(self, symbol: str, bar: Mapping[str, object]) -> np.ndarray:
        """Ingest one bar (``timestamp``, ``open``, ``high``, ``low``, ``close``, ``volume``) and
        return the symbol's feature row."""
        try:
            values = np.array([[float(bar[name]) for name in BAR_VALUES]])
            stamp = np.array([to_ns(bar["timestamp"])])
        except KeyError as error:
            raise BarDataError(f"{symbol}: bar has no {error.args[0]!r}") from None
        except (TypeError, ValueError) as error:
            raise BarDataError(f"{symbol}: bar value is not a number ({error})") from None
        return self.update_many([symbol], stamp, values)[0]

    def update_many(self, symbols: Sequence[str], timestamps: np.ndarray,
                    bars: np.ndarray) -> np.ndarray:
        """Step several symbols by one bar each: ``timestamps`` (int64 ns or datetime64, one per
        symbol) and ``bars`` (symbols, 5) OHLCV. Returns (symbols, features)."""
        index = self.symbols.index
        for symbol in symbols:
            if symbol not in index:
                self.add_symbol(symbol)
        syms = np.fromiter((index[symbol] for symbol in symbols), np.int64, len(symbols))
        if len(syms) > 1 and len(np.unique(syms)) != len(syms):
            raise BarDataError("update_many: a symbol appears twice in one step")
        stamps = np.asarray(timestamps)
        if stamps.dtype.kind == "M":
            stamps = stamps.astype("datetime64[ns]").view(np.int64)
        values = np.asarray(bars, dtype=np.float64).reshape(len(syms), len(BAR_VALUES))
        check_bar_values(values, symbols)
        last = self.symbols.last[syms]
        if (stamps < last).any():
            j = int(np.argmax(stamps < last))
            self.symbols.check_order(syms[j], stamps[j], symbols[j])
        fresh = stamps > last
        if fresh.all():
            return self._step(syms, stamps, values)
        result = self._last_rows(syms)  # a repeated bar changes nothing
        if fresh.any():
            result[fresh] = self._step(syms[fresh], stamps[fresh], values[fresh])
        return result

    def _step(self, syms: np.ndarray, stamps: np.ndarray, values: np.ndarray) -> np.ndarray:
        vals = _values(stamps, values, self._context_inputs(syms, stamps), 1, len(syms))
        rows = PROGRAM.run(vals, self.symbols.state, self.symbols.ring, syms)[:, 0, :].T
        self.rows[syms, self.seen[syms] % self.window_length] = rows
        self.seen[syms] += 1
        self.symbols.last[syms] = stamps
        return rows

    def _context_inputs(self, syms: np.ndarray, stamps: np.ndarray) -> np.ndarray:
        """Each slot's last context bar as of each symbol's bar (the batch rule, one bar deep)."""
        shape = (len(CONTEXT_SLOTS), len(CONTEXT_VALUES) + 1, len(syms))
        if not self.contexts.index:
            return np.tile(MISSING_CONTEXT, (len(syms), 1)).T.copy()
        columns = np.empty((len(CONTEXT_SLOTS), len(syms)), dtype=np.int64)
        for i, slot in enumerate(CONTEXT_SLOTS):
            columns[i] = (self.sector_column[syms] if slot == SECTOR
                          else self.contexts.index.get(slot.upper(), -1))
        last = np.where(columns >= 0, self.contexts.last[columns], NEVER)
        chosen = self.context_values[:, columns].transpose(1, 0, 2)  # (slots, values, symbols)
        block = np.empty(shape)
        block[:, :-1], block[:, -1:] = latest_as_of(last[:, None], chosen, stamps,
                                                    self.max_age_ns)
        return block.reshape(-1, len(syms))

    def _last_rows(self, syms: np.ndarray) -> np.ndarray:
        return self.rows[syms, (self.seen[syms] - 1) % self.window_length]

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
        return self.rows[column, order].copy()

    def snapshot(self, path: str | Path) -> Path:
        """Write the whole engine state to ``path`` (an ``.npz`` file, written atomically)."""
        from features.snapshot import save_engine

        return save_engine(self, Path(path))

    @classmethod
    def restore(cls, path: str | Path) -> StreamingEngine:
        """An engine in the state :meth:`snapshot` saved."""
        from features.snapshot import load_engine

        return load_engine(cls, Path(path))


class _Series:
    """Kernel memory of one program for many named series (symbols or market series)."""

    def __init__(self, program) -> None:
        self.program = program
        self.index: dict[str, int] = {}  # name -> column in state and ring
        self.state, self.ring = program.new_memory(0)
        self.last = np.empty(0, dtype=np.int64)  # timestamp (ns) of each series' last bar

    def add(self, name: str) -> None:
        state, ring = self.program.new_memory(1)
        self.state = np.concatenate([self.state, state], axis=1)
        self.ring = np.concatenate([self.ring, ring], axis=1)
        self.last = np.append(self.last, np.iinfo(np.int64).min)
        self.index[name] = len(self.index)

    def check_order(self, column: int, stamp: int, name: str) -> None:
        if stamp < self.last[column]:
            raise BarDataError(
                f"{name}: bar at {pd.Timestamp(stamp, tz='UTC')} is older than the last one "
                f"({pd.Timestamp(self.last[column], tz='UTC')})")


def to_ns(timestamp: object) -> int:
    """A timestamp (int ns, numpy datetime64, datetime, pandas Timestamp or ISO text; naive means
    UTC) as int64 UTC nanoseconds."""
    if isinstance(timestamp, (int, np.integer)):
        return int(timestamp)
    if isinstance(timestamp, np.datetime64):
        return int(timestamp.astype("datetime64[ns]").astype(np.int64))
    return int(pd.Timestamp(timestamp).value)
