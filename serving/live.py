"""Per-symbol live state: bars arrive one at a time, signals come back.

For every symbol the streaming feature engine keeps its kernels' state and the last rows of
features; this module adds the last bar (to spot duplicates and older bars), the signal rule's
state and the latest forecast.

Durability: every accepted bar is appended to a journal (fsync'd) before it is answered; every
``snapshot_every`` bars the whole state is snapshotted (temporary file, then rename) and the
journal restarts. At start-up the last snapshot is restored and the journal since it replayed,
so a crash, even SIGKILL, loses no bar whose ingest was answered.

Files in ``state_dir``: ``current.json`` (which snapshot is current: the commit point),
``snapshot-<seq>.npz`` and ``snapshot-<seq>.json`` (engine and the rest), ``journal.jsonl``.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.bars import check_bars
from features.engine import StreamingEngine
from features.errors import UnknownSymbolError
from features.signal_rule import SignalState
from features.windows import WINDOW
from serving.errors import InputError, StaleBarError
from serving.pipeline import MIN_BARS, Forecaster, ForecastResult, forecast_dict

PRICE_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class IngestResult:
    symbol: str  # the symbol
    timestamp: pd.Timestamp  # its latest bar's time
    added: bool  # False: the same bar was already ingested
    bars: int  # bars ingested for the symbol so far
    forecast: dict | None  # `serving.schemas.Forecast` body; None while warming up

    @property
    def bars_needed(self) -> int:
        return max(0, MIN_BARS - self.bars)


@dataclass
class SymbolState:
    last_bar: dict[str, Any]  # the last accepted bar (timestamp as ISO text)
    bars: int = 0  # bars accepted so far
    signal: SignalState = SignalState()  # the signal rule's state
    forecast: dict | None = None  # the latest forecast body, None while warming up


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file, fsync, then rename: a reader never sees half a file."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class LiveBook:
    """Live state of every symbol, durable across restarts; one ingest at a time."""

    def __init__(self, state_dir: Path, forecaster: Forecaster) -> None:
        self.state_dir = state_dir
        self.forecaster = forecaster
        self.config = forecaster.config
        self.lock = threading.Lock()
        state_dir.mkdir(parents=True, exist_ok=True)
        self.engine, self.symbols, self.seq = self.restore()
        self.snapshot_seq = self.seq
        journal_path = state_dir / "journal.jsonl"
        self.replay_journal(journal_path)
        self.journal = journal_path.open("a")
        if journal_path.stat().st_size:  # fold the replayed bars in and drop a torn last line
            self.snapshot()

    # -- the live path -------------------------------------------------------------------

    def ingest(
        self, symbol: str, bar: dict[str, Any], context: dict[str, dict[str, Any]] | None = None
    ) -> IngestResult:
        """Apply one bar (and the context closes that came with it); idempotent.

        ``bar`` and each context point may carry ``known_at`` (when they became known); without
        it a time is taken as its own known-at time. The bar must pass the bar validation and
        every context point must be known by the bar's known-at time, or nothing changes."""
        bar_time = pd.Timestamp(bar["timestamp"])
        known = known_at(bar)
        values = [float(bar[k]) for k in PRICE_FIELDS]
        check_bars(np.array([bar_time.value]), np.array([values]),
                   np.array([known.value]) if bar.get("known_at") else None, lambda _: "bar")
        bar = {"timestamp": bar_time.isoformat(), **dict(zip(PRICE_FIELDS, values, strict=True)),
               "known_at": known.isoformat()}
        context = {
            name: {"timestamp": pd.Timestamp(point["timestamp"]).isoformat(),
                   "close": float(point["close"]), "known_at": known_at(point).isoformat()}
            for name, point in (context or {}).items()
        }
        check_context(context, known)
        with self.lock:
            state = self.symbols.get(symbol)
            if state is not None and self.is_duplicate(symbol, state, bar):
                return self.result(symbol, state, added=False)
            for name, point in context.items():  # all refusals before any change
                self.engine.check_context(name, point["timestamp"], point["close"],
                                          known_at=point["known_at"])
            entry = {"seq": self.seq + 1, "symbol": symbol, "bar": bar, "context": context}
            state = self.apply(entry)  # first: a bar the engine refuses must not be journaled
            self.journal.write(json.dumps(entry) + "\n")
            self.journal.flush()
            if self.config.fsync:
                os.fsync(self.journal.fileno())
            if self.seq - self.snapshot_seq >= self.config.snapshot_every:
                self.snapshot()
            return self.result(symbol, state, added=True)

    def latest(self, symbol: str) -> IngestResult:
        state = self.symbols.get(symbol)
        if state is None:
            raise UnknownSymbolError(f"symbols: '{symbol}' has no live state (ingest bars first)")
        return self.result(symbol, state, added=False)

    def is_duplicate(self, symbol: str, state: SymbolState, bar: dict[str, Any]) -> bool:
        last = state.last_bar
        new_time, last_time = pd.Timestamp(bar["timestamp"]), pd.Timestamp(last["timestamp"])
        if new_time > last_time:
            return False
        if new_time == last_time and all(bar[k] == last[k] for k in PRICE_FIELDS):
            return True  # the same bar again (its identity: time and values)
        same_time = new_time == last_time
        what = "differs from the bar already ingested at" if same_time else "is older than"
        raise StaleBarError(
            "bar.timestamp", f"{symbol} bar at {bar['timestamp']} {what} the last one "
            f"({last['timestamp']}); bars must arrive in time order"
        )

    def apply(self, entry: dict[str, Any]) -> SymbolState:
        """Feed one journal entry to the engine and, once warm, the model and the signal rule."""
        symbol, bar = entry["symbol"], entry["bar"]
        timestamp = pd.Timestamp(bar["timestamp"])
        for name, point in sorted(entry["context"].items()):
            self.engine.update_context(name, pd.Timestamp(point["timestamp"]), point["close"],
                                       known_at=known_at(point))
        self.engine.update(symbol, {**bar, "timestamp": timestamp, "known_at": known_at(bar)})
        state = self.symbols.setdefault(symbol, SymbolState(last_bar=bar))
        state.last_bar, state.bars, self.seq = bar, state.bars + 1, entry["seq"]
        if state.bars >= MIN_BARS:
            result = self.forecast(symbol, timestamp, state.signal)
            state.signal, state.forecast = result.signal, forecast_dict(result, True)
        return state

    def forecast(self, symbol: str, timestamp: pd.Timestamp, signal: SignalState) -> ForecastResult:
        variant = self.config.live_variant
        rows = self.engine.window(symbol, WINDOW)
        prediction, versions, horizons = self.forecaster.predict_rows(rows, variant)
        return ForecastResult(
            symbol=symbol, timestamp=timestamp, variant=variant, versions=versions,
            horizons=horizons, prediction=prediction,
            signal=self.forecaster.signal(prediction, horizons, signal),
        )

    def result(self, symbol: str, state: SymbolState, added: bool) -> IngestResult:
        return IngestResult(
            symbol=symbol, timestamp=pd.Timestamp(state.last_bar["timestamp"]), added=added,
            bars=state.bars, forecast=state.forecast,
        )

    # -- durability ------------------------------------------------------------------------

    def snapshot(self) -> None:
        """Persist everything, then start an empty journal (call with the lock held)."""
        seq = self.seq
        self.engine.snapshot(self.state_dir / f"snapshot-{seq}.npz")  # atomic itself
        symbols = {
            name: {"last_bar": s.last_bar, "bars": s.bars, "forecast": s.forecast,
                   "signal": {"position": s.signal.position, "bars_held": s.signal.bars_held}}
            for name, s in self.symbols.items()
        }
        write_atomic(self.state_dir / f"snapshot-{seq}.json", json.dumps({"symbols": symbols}))
        write_atomic(self.state_dir / "current.json", json.dumps({"seq": seq}))  # commit point
        self.journal.close()
        write_atomic(self.state_dir / "journal.jsonl", "")
        self.journal = (self.state_dir / "journal.jsonl").open("a")
        for old in self.state_dir.glob("snapshot-*"):
            if not old.name.startswith(f"snapshot-{seq}."):
                old.unlink()
        self.snapshot_seq = seq

    def restore(self) -> tuple[StreamingEngine, dict[str, SymbolState], int]:
        current = self.state_dir / "current.json"
        if not current.exists():
            return StreamingEngine(), {}, 0
        seq = json.loads(current.read_text())["seq"]
        engine = StreamingEngine.restore(self.state_dir / f"snapshot-{seq}.npz")
        saved = json.loads((self.state_dir / f"snapshot-{seq}.json").read_text())["symbols"]
        symbols = {
            name: SymbolState(
                last_bar=s["last_bar"], bars=s["bars"], forecast=s["forecast"],
                signal=SignalState(**s["signal"]),
            )
            for name, s in saved.items()
        }
        return engine, symbols, seq

    def replay_journal(self, path: Path) -> None:
        """Re-apply the bars journaled after the snapshot; a torn last line was never answered."""
        if not path.exists():
            return
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                break  # the write a crash cut short; its client got no answer
            if entry["seq"] > self.seq:
                self.apply(entry)

    def close(self) -> None:
        """Snapshot and close (on shutdown)."""
        with self.lock:
            if self.seq != self.snapshot_seq:
                self.snapshot()
            self.journal.close()


def known_at(point: dict[str, Any]) -> pd.Timestamp:
    """A journaled bar's or context point's known-at time (journals from before known-at times
    existed hold none: the timestamp was taken as known-at time then)."""
    return pd.Timestamp(point.get("known_at") or point["timestamp"])


def check_context(context: dict[str, dict[str, Any]] | None, bar_known: pd.Timestamp) -> None:
    """Context closes must have become known by the end of the bar they come with."""
    for name, point in (context or {}).items():
        if pd.Timestamp(point["known_at"]) > bar_known:
            raise InputError(
                f"context.{name}.known_at", f"ends at {point['known_at']}, after the bar "
                f"(known at {bar_known.isoformat()}): a bar never sees a later close")
