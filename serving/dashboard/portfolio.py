"""The paper portfolio behind the Dashboard page: the live path's signals traded on paper.

The interface is two calls, so whatever produces live signals can feed it:

- ``observe(symbol, timestamp, close, target, forecast=None)``: one answered ingest, i.e. a
  symbol's bar close and the target position in [-1, 1] that the shared signal rule gave for it
  (``None`` while the symbol is warming up: flat);
- ``summary(...)``: equity, P&L, Sharpe, drawdown, the equity curve (downsampled), the latest
  signal per symbol and the risk figures, as one JSON-ready dict.

Accounting: every symbol is an equal sleeve of the capital. A target known at the end of bar t
is filled at the close of bar t+1 (the portfolio sees closes only, so it cannot fill at the next
open; a bar later is the conservative choice), and each change of position pays
``cost_per_unit`` x |change| of the sleeve. The observations are appended to a JSON-lines file
and replayed at start-up, so the portfolio survives a restart.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serving.forecasting import IngestResult
from serving.live import journal_entries

OBSERVATIONS_FILE = "observations.jsonl"
PERIODS_PER_YEAR = 252  # daily bars: the sample universe's timeframe


@dataclass(frozen=True)
class PortfolioConfig:
    initial_equity: float = 1_000_000.0  # paper capital at the first bar
    cost_per_unit: float = 0.002  # cost of changing a sleeve's position by 1: slippage + fee
    max_position: float = 1.0  # limit on |position| per symbol (shown with the risk figures)
    max_gross: float = 1.0  # limit on gross exposure / equity
    daily_loss_stop: float | None = 0.05  # a day's loss that would flatten the book; None: off


@dataclass(frozen=True)
class Observation:
    symbol: str  # the ingested symbol
    timestamp: pd.Timestamp  # its bar's time
    close: float  # its bar's close
    target: float  # the signal rule's target position after this bar (0 while warming up)
    forecast: dict | None  # the first horizon's probabilities and expected return, if any


class PaperPortfolio:
    """Positions from answered ingests, marked to the closes that came with them."""

    def __init__(self, folder: Path | None = None, config: PortfolioConfig | None = None) -> None:
        self.folder = folder
        self.config = config or PortfolioConfig()
        self.lock = threading.Lock()
        self.observations: list[Observation] = []
        self.last_time: dict[str, pd.Timestamp] = {}
        self.cached: tuple[tuple, dict] | None = None
        self.journal = None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            self.replay(folder / OBSERVATIONS_FILE)
            self.journal = (folder / OBSERVATIONS_FILE).open("a")

    def configure(self, **fields: Any) -> None:
        """Change the cost or limit assumptions (the whole history is re-marked with them)."""
        with self.lock:
            self.config = replace(self.config, **fields)
            self.cached = None

    def observe(self, symbol: str, timestamp: pd.Timestamp | str, close: float,
                target: float | None, forecast: dict | None = None) -> bool:
        """Record one answered ingest; a bar not newer than the symbol's last one is ignored."""
        stamp = pd.Timestamp(timestamp)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        with self.lock:
            last = self.last_time.get(symbol)
            if last is not None and stamp <= last:
                return False
            observation = Observation(symbol, stamp, float(close), float(target or 0.0),
                                      brief_forecast(forecast))
            self.add(observation)
            if self.journal is not None:
                self.journal.write(json.dumps(to_record(observation)) + "\n")
                self.journal.flush()
            return True

    def add(self, observation: Observation) -> None:
        self.observations.append(observation)
        self.last_time[observation.symbol] = observation.timestamp
        self.cached = None

    def replay(self, path: Path) -> None:
        for record in journal_entries(path):
            self.add(from_record(record))

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()

    # -- reading -----------------------------------------------------------------------------

    def summary(self, max_points: int = 1000) -> dict:
        """Everything the Dashboard page shows, computed once per new observation."""
        with self.lock:
            key = (len(self.observations), max_points, self.config)
            if self.cached is not None and self.cached[0] == key:
                return self.cached[1]
            observations, config = list(self.observations), self.config
        answer = summarise(observations, config, max_points)
        with self.lock:
            self.cached = (key, answer)
        return answer


def brief_forecast(forecast: dict | None) -> dict | None:
    """The part of a forecast body the signals table shows (its first horizon)."""
    if not forecast or not forecast.get("forecasts"):
        return None
    first = forecast["forecasts"][0]
    keys = ("horizon", "p_down", "p_flat", "p_up", "expected_return")
    return {key: first[key] for key in keys if key in first}


def to_record(observation: Observation) -> dict:
    return {"symbol": observation.symbol, "timestamp": observation.timestamp.isoformat(),
            "close": observation.close, "target": observation.target,
            "forecast": observation.forecast}


def from_record(record: dict) -> Observation:
    return Observation(record["symbol"], pd.Timestamp(record["timestamp"]), record["close"],
                       record["target"], record.get("forecast"))


def book_returns(observations: list[Observation], config: PortfolioConfig) -> pd.DataFrame:
    """Per bar time: the portfolio's net return, gross exposure and costs (fractions of equity)."""
    frame = pd.DataFrame({
        "timestamp": [o.timestamp for o in observations],
        "symbol": [o.symbol for o in observations],
        "close": [o.close for o in observations],
        "target": [o.target for o in observations],
    })
    closes = frame.pivot_table("close", "timestamp", "symbol", aggfunc="last").sort_index()
    targets = frame.pivot_table("target", "timestamp", "symbol", aggfunc="last").sort_index()
    closes = closes.ffill()
    held = targets.ffill().fillna(0.0).clip(-config.max_position, config.max_position)
    # filled at the next close: the position earning over (t+1, t+2] is the one known at t
    filled = held.shift(1).fillna(0.0)
    sleeves = closes.notna().sum(axis=1).clip(lower=1).to_numpy()[:, None]
    moves = closes.pct_change(fill_method=None).fillna(0.0)
    gross_returns = (filled.shift(1).fillna(0.0) * moves).to_numpy() / sleeves
    costs = (filled.diff().abs().fillna(filled.abs()) * config.cost_per_unit).to_numpy() / sleeves
    return pd.DataFrame({
        "return": gross_returns.sum(axis=1) - costs.sum(axis=1),
        "costs": costs.sum(axis=1),
        "gross_exposure": (filled.abs().to_numpy() / sleeves).sum(axis=1),
    }, index=closes.index)


def unix_seconds(times: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """Times as Unix seconds (the charts' time axis), whatever unit pandas stores them in."""
    return pd.DatetimeIndex(times).as_unit("s").asi8


def downsample(index: pd.DatetimeIndex, values: np.ndarray, max_points: int) -> list[list]:
    """At most ``max_points`` [time, value] pairs: every k-th point, the last one always kept.

    A 20-year daily curve has 5000 points; a chart 1000 pixels wide shows no more than 1000.
    """
    if len(index) == 0:
        return []
    step = max(1, math.ceil(len(index) / max_points))
    picks = np.unique(np.r_[np.arange(0, len(index), step), len(index) - 1])
    seconds = unix_seconds(index)[picks]
    return [[int(t), round(float(v), 6)] for t, v in zip(seconds, values[picks], strict=True)]


def summarise(observations: list[Observation], config: PortfolioConfig, max_points: int) -> dict:
    latest: dict[str, Observation] = {}
    for observation in observations:
        latest[observation.symbol] = observation
    signals = [
        {"symbol": o.symbol, "timestamp": o.timestamp.isoformat(), "close": o.close,
         "target": o.target, "forecast": o.forecast}
        for o in sorted(latest.values(), key=lambda o: o.symbol)
    ]
    limits = {"max_position": config.max_position, "max_gross": config.max_gross,
              "daily_loss_stop": config.daily_loss_stop}
    empty = {"bars": 0, "symbols": 0, "equity": config.initial_equity,
             "initial_equity": config.initial_equity, "pnl_today": 0.0, "pnl_total": 0.0,
             "sharpe": None, "max_drawdown": 0.0, "drawdown": 0.0, "costs_total": 0.0,
             "equity_curve": [], "drawdown_curve": [], "signals": signals,
             "risk": {"gross_exposure": 0.0, "limits": limits, "daily_loss_stop_hit": False},
             "last_timestamp": None, "cost_per_unit": config.cost_per_unit}
    if not observations:
        return empty
    book = book_returns(observations, config)
    equity = config.initial_equity * np.cumprod(1.0 + book["return"].to_numpy())
    peaks = np.maximum.accumulate(equity)
    drawdown = equity / peaks - 1.0
    returns = book["return"].to_numpy()[1:]
    spread = returns.std(ddof=1) if len(returns) > 1 else 0.0
    sharpe = float(returns.mean() / spread * math.sqrt(PERIODS_PER_YEAR)) if spread > 0 else None
    before = equity[-2] if len(equity) > 1 else config.initial_equity
    today = book["return"].iloc[-1]
    stop = config.daily_loss_stop
    return {
        **empty,
        "bars": len(observations),
        "symbols": len(latest),
        "equity": float(equity[-1]),
        "pnl_today": float(equity[-1] - before),
        "pnl_total": float(equity[-1] - config.initial_equity),
        "sharpe": sharpe,
        "max_drawdown": float(drawdown.min()),
        "drawdown": float(drawdown[-1]),
        "costs_total": float((book["costs"] * np.r_[config.initial_equity, equity[:-1]]).sum()),
        "equity_curve": downsample(book.index, equity, max_points),
        "drawdown_curve": downsample(book.index, drawdown, max_points),
        "risk": {"gross_exposure": float(book["gross_exposure"].iloc[-1]), "limits": limits,
                 "daily_loss_stop_hit": bool(stop is not None and today <= -stop)},
        "last_timestamp": book.index[-1].isoformat(),
    }


def observe_ingest(book: PaperPortfolio, result: IngestResult, close: float,
                   forecast: dict | None) -> None:
    """The service's hook: an answered ingest of a new bar, with the target it produced;
    ``forecast`` is that forecast's API body (None while the symbol warms up)."""
    if result.added:
        target = None if result.forecast is None else result.forecast.signal.position
        book.observe(result.symbol, result.timestamp, close, target, forecast)
