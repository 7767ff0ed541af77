"""Per-symbol live state: bars arrive one at a time, signals come back.

For every symbol the streaming feature engine keeps its kernels' state and the last rows of
features; this module adds the last bar (to spot duplicates and older bars), the signal rule's
state and the latest forecast (a `ForecastResult`: the API's JSON is built at the edge, by
`serving.responses`; the snapshots keep each forecast as that JSON, with its attention).

Durability: every accepted request is appended to a journal (one line and one fsync for all the
bars of a bulk ingest: group commit) before it is answered; every ``snapshot_every`` journal
lines the whole state is snapshotted (temporary file, then rename) and the
journal restarts. At start-up the last snapshot is restored and the journal since it replayed,
so a crash, even SIGKILL, loses no bar whose ingest was answered.

Files in ``state_dir``: ``current.json`` (which snapshot is current: the commit point),
``snapshot-<seq>.npz`` and ``snapshot-<seq>.json`` (engine and the rest), ``journal.jsonl``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contract.errors import UnknownSymbolError
from contract.files import write_atomic
from features.engine import StreamingEngine, to_ns
from features.windows import WINDOW
from policy.signal_rule import SignalState
from serving.errors import InputError, StaleBarError
from serving.forecasting import MIN_BARS, Forecaster, ForecastResult, IngestResult
from serving.predictor import Prediction
from serving.responses import forecast_body

PRICE_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass
class SymbolState:
    last_bar: dict[str, Any]  # the last accepted bar (timestamp as ISO text)
    bars: int = 0  # bars accepted so far
    signal: SignalState = SignalState()  # the signal rule's state
    forecast: ForecastResult | None = None  # the latest forecast, None while warming up


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
        self, symbol: str, bar: Mapping[str, Any], context: Mapping[str, Mapping] | None = None
    ) -> IngestResult:
        """Apply one bar (and the context closes that came with it); idempotent. The bar and
        each context point may carry ``known_at`` (when it became known); without it a time is
        taken as its own known-at time."""
        stamps = np.array([to_ns(bar["timestamp"])])
        values = np.array([[float(bar[k]) for k in PRICE_FIELDS]])
        with_known = {name: (to_ns(p["timestamp"]), float(p["close"]), known_ns(p))
                      for name, p in (context or {}).items()}
        return self.ingest_many([symbol], stamps, values, with_known, where=lambda _: "bar",
                                known_at=np.array([known_ns(bar)]))[0]

    def ingest_many(
        self,
        symbols: Sequence[str],
        stamps: np.ndarray,
        values: np.ndarray,
        context: Mapping[str, tuple[int, float, int]] | None = None,
        where: Callable[[str], str] = lambda symbol: f"bars.{symbol}",
        *,
        known_at: np.ndarray | None = None,
    ) -> list[IngestResult]:
        """One bar for each of ``symbols`` (int64 ns open ``stamps`` and ``known_at`` times,
        default the open, (n, 5) OHLCV ``values``, already checked) and context closes
        (name -> (ns open, close, ns known-at)), applied together: one journal line and one
        fsync for all of them (group commit), one batched model run.

        All or nothing: a symbol's bar older than its last one (409), or a context close known
        only after the bars' ends (422), refuses the whole request before anything changes; a
        repeated last bar changes nothing for that symbol.
        """
        if len(set(symbols)) != len(symbols):
            raise InputError("bars", "a symbol appears twice")
        known_at = stamps if known_at is None else known_at
        bars = {symbol: bar_record(stamp, row, known)
                for symbol, stamp, row, known in zip(symbols, stamps, values, known_at,
                                                     strict=True)}
        points = {name: {"timestamp": iso(stamp), "close": float(close), "known_at": iso(known)}
                  for name, (stamp, close, known) in (context or {}).items()}
        first_end = int(np.min(known_at))
        late = [name for name, (_, _, known) in (context or {}).items() if known > first_end]
        if late:  # as of, never after: a context close must be known by the bars' ends
            raise InputError(f"context.{late[0]}.known_at",
                             f"ends at {points[late[0]]['known_at']}, after the bar (known at "
                             f"{iso(first_end)}): a bar never sees a later close")
        with self.lock:
            fresh = [symbol for symbol in symbols if not self.is_duplicate(
                symbol, self.symbols.get(symbol), bars[symbol], where(symbol))]
            for name, point in points.items():  # every refusal before any change
                self.engine.check_context(name, point["timestamp"], point["close"],
                                          known_at=point["known_at"])
            if fresh:
                entry = {"seq": self.seq + 1, "bars": {s: bars[s] for s in fresh},
                         "context": points}
                self.apply(entry)  # first: bars the engine refuses must not be journaled
                self.journal.write(json.dumps(entry) + "\n")
                self.journal.flush()
                if self.config.fsync:
                    os.fsync(self.journal.fileno())
                if self.seq - self.snapshot_seq >= self.config.snapshot_every:
                    self.snapshot()
            added = set(fresh)
            return [self.result(s, self.symbols[s], added=s in added) for s in symbols]

    def latest(self, symbol: str) -> IngestResult:
        state = self.symbols.get(symbol)
        if state is None:
            raise UnknownSymbolError(f"symbols: '{symbol}' has no live state (ingest bars first)")
        return self.result(symbol, state, added=False)

    def is_duplicate(
        self, symbol: str, state: SymbolState | None, bar: dict[str, Any], field: str
    ) -> bool:
        if state is None:
            return False
        last = state.last_bar
        new_time, last_time = pd.Timestamp(bar["timestamp"]), pd.Timestamp(last["timestamp"])
        if new_time > last_time:
            return False
        if new_time == last_time and all(bar[k] == last[k] for k in PRICE_FIELDS):
            return True  # the same bar again (its identity: time and values)
        same_time = new_time == last_time
        what = "differs from the bar already ingested at" if same_time else "is older than"
        raise StaleBarError(
            f"{field}.timestamp", f"{symbol} bar at {bar['timestamp']} {what} the last one "
            f"({last['timestamp']}); bars must arrive in time order"
        )

    def apply(self, entry: dict[str, Any]) -> None:
        """Feed one journal entry to the engine and, for warm symbols, the model (one batched
        run) and the signal rule."""
        if "symbol" in entry:  # a journal line written before bulk ingest existed
            entry = {"seq": entry["seq"], "bars": {entry["symbol"]: entry["bar"]},
                     "context": entry["context"]}
        for name, point in sorted(entry["context"].items()):
            self.engine.update_context(name, pd.Timestamp(point["timestamp"]), point["close"],
                                       known_at=known_ns(point))
        symbols, bars = list(entry["bars"]), list(entry["bars"].values())
        stamps = np.array([to_ns(bar["timestamp"]) for bar in bars])
        values = np.array([[bar[k] for k in PRICE_FIELDS] for bar in bars], dtype=np.float64)
        self.engine.update_many(symbols, stamps, values,
                                known_at=np.array([known_ns(bar) for bar in bars]))
        warm = []
        for symbol, bar in zip(symbols, bars, strict=True):
            state = self.symbols.setdefault(symbol, SymbolState(last_bar=bar))
            state.last_bar, state.bars = bar, state.bars + 1
            if state.bars >= MIN_BARS:
                warm.append(symbol)
        self.seq = entry["seq"]
        if warm:
            self.forecast(warm)

    def forecast(self, symbols: list[str]) -> None:
        """Forecast the symbols' latest windows in one batched run; step their signal rule."""
        variant = self.config.live_variant
        rows = [self.engine.window(symbol, WINDOW) for symbol in symbols]
        prediction, versions, horizons = self.forecaster.predict_many(rows, variant)
        for index, symbol in enumerate(symbols):
            state = self.symbols[symbol]
            row = prediction.row(index)
            result = ForecastResult(
                symbol=symbol, timestamp=pd.Timestamp(state.last_bar["timestamp"]),
                variant=variant, versions=versions, horizons=horizons, prediction=row,
                signal=self.forecaster.signal(row, horizons, state.signal),
            )
            state.signal, state.forecast = result.signal, result

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
            name: {"last_bar": s.last_bar, "bars": s.bars,
                   "forecast": None if s.forecast is None else forecast_body(s.forecast, True),
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
                last_bar=s["last_bar"], bars=s["bars"], forecast=restored_forecast(s["forecast"]),
                signal=SignalState(**s["signal"]),
            )
            for name, s in saved.items()
        }
        return engine, symbols, seq

    def replay_journal(self, path: Path) -> None:
        """Re-apply the bars journaled after the snapshot; a torn last line was never answered."""
        for entry in journal_entries(path):
            if entry["seq"] > self.seq:
                self.apply(entry)

    def close(self) -> None:
        """Snapshot and close (on shutdown)."""
        with self.lock:
            if self.seq != self.snapshot_seq:
                self.snapshot()
            self.journal.close()


def journal_entries(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSON-lines journal, oldest first (none when there is no file). A torn
    last line is a write a crash cut short, never answered: everything before it is whole."""
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            return


def restored_forecast(body: dict | None) -> ForecastResult | None:
    """A forecast as a snapshot keeps it (`forecast_body` with attention) back as a result."""
    if body is None:
        return None
    rows = body["forecasts"]
    prediction = Prediction(
        probabilities=np.array([[[r["p_down"], r["p_flat"], r["p_up"]] for r in rows]]),
        returns=np.array([[r["expected_return"] for r in rows]]),
        volatility=np.array([[r["volatility"] for r in rows]]),
        attention=np.array([body["attention"]]),
    )
    return ForecastResult(
        symbol=body["symbol"], timestamp=pd.Timestamp(body["timestamp"]),
        variant=body["variant"], versions=body["versions"],
        horizons=tuple(r["horizon"] for r in rows), prediction=prediction,
        signal=SignalState(**body["signal"]),
    )


def bar_record(stamp: int, row: np.ndarray, known: int) -> dict[str, Any]:
    """A bar as the journal and the snapshots keep it: ISO times and plain floats."""
    return {"timestamp": iso(stamp), **{k: float(v) for k, v in zip(PRICE_FIELDS, row,
                                                                       strict=True)},
            "known_at": iso(known)}


def known_ns(point: Mapping[str, Any]) -> int:
    """A bar's or context point's known-at time (int64 ns); journals and callers from before
    known-at times existed hold none: the timestamp was taken as its known-at time then."""
    return to_ns(point.get("known_at") or point["timestamp"])


def iso(stamp: int) -> str:
    return pd.Timestamp(int(stamp), tz="UTC").isoformat()
