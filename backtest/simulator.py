"""The event-driven simulator: target positions in, fills, costs and an equity curve out.

Time moves bar by bar over the union of the symbols' bar times. At each bar, in this order:

1. orders decided at a symbol's previous bar fill at this bar's open (``fill="next_open"``) or
   close (``"next_close"``) - never at the price of the bar whose close produced the signal;
2. positions are marked at the close; a symbol whose bars stop before the backtest ends (it was
   delisted, or its universe entry ends) is closed at its last close;
3. the daily loss stop: once equity falls more than the limit below the day's opening equity,
   every position is flattened at its next fill and signals are ignored for the rest of that
   day (the period of one bar, for daily bars);
4. new signals become targets: capped per symbol and for gross exposure, sized on the equity at
   this close, and sent as orders only when the target changed.

A position of 1 means ``symbol_weight`` of equity (1 / number of symbols unless set). Costs are
charged on every fill (see :mod:`backtest.costs`); cash earns nothing.

Times are those of :mod:`marketdata.sessions`: a signal at bar t is known at t's end (its
``known_at``: the session close for daily stock bars). Each trade records ``decided_at`` (the
end of the bar whose close produced the order) and ``filled_at``: the next bar's open
(``timestamp``) for ``next_open``, its end for ``next_close``; ``filled_at >= decided_at``
always (equal for back-to-back bars: a minute bar's end is the next one's open).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from tqdm import tqdm

from backtest.costs import CostModel
from backtest.risk import RiskLimits, trading_periods
from contract.errors import TradecastError
from marketdata.sessions import known_at_ns

Fill = Literal["next_open", "next_close"]
TRADE_COLUMNS = ["timestamp", "symbol", "side", "quantity", "price", "cost", "reason",
                 "decided_at", "filled_at"]


@dataclass(frozen=True)
class BacktestConfig:
    initial_capital: float = 1_000_000.0  # money at the start
    fill: Fill = "next_open"  # price a signal at bar t trades at: bar t+1's open or close
    costs: CostModel = field(default_factory=CostModel)  # slippage and commission
    risk: RiskLimits = field(default_factory=RiskLimits)  # position caps, daily loss stop
    symbol_weight: float | None = None  # equity fraction a position of 1 means; None = 1/symbols

    def __post_init__(self) -> None:
        if self.fill not in ("next_open", "next_close"):
            raise TradecastError(f"fill must be next_open or next_close, got {self.fill!r}")


@dataclass(frozen=True)
class BacktestResult:
    equity: pd.DataFrame  # per bar: timestamp, equity, cash, gross_exposure, traded, costs, return
    trades: pd.DataFrame  # one row per fill, TRADE_COLUMNS
    symbol_pnl: pd.DataFrame  # money made per bar (after costs), indexed by timestamp, by symbol
    holdings: pd.DataFrame  # position value / equity at each close, indexed by timestamp, by symbol
    stops: list[pd.Timestamp]  # bars at which the daily loss stop fired
    config: BacktestConfig  # the settings of the run


def simulate(
    signals: pd.DataFrame,
    bars: dict[str, pd.DataFrame],
    config: BacktestConfig = BacktestConfig(),
    progress: bool = False,
) -> BacktestResult:
    """Trade a checked signal frame (:func:`backtest.signals.validate_signals`) on ``bars``.

    The backtest runs from the first to the last signal's timestamp.
    """
    return _Simulation(signals, bars, config).run(progress)


class _Simulation:
    """The state of one run: prices as (bars, symbols) matrices, the book, and what was recorded."""

    def __init__(
        self, signals: pd.DataFrame, bars: dict[str, pd.DataFrame], config: BacktestConfig
    ) -> None:
        self.config = config
        self.symbols = sorted(signals["symbol"].unique())
        start, end = signals["timestamp"].min(), signals["timestamp"].max()
        frames = {s: bars[s].set_index("timestamp") for s in self.symbols}
        stamps = pd.DatetimeIndex(np.unique(np.concatenate([f.index for f in frames.values()])))
        self.timeline = stamps[(stamps >= start) & (stamps <= end)]
        self.periods = trading_periods(self.timeline)
        self.opens = self._matrix(frames, "open")
        self.closes = self._matrix(frames, "close")
        ends = {s: bars[s].assign(known_at=pd.to_datetime(known_at_ns(bars[s], s), utc=True))
                .set_index("timestamp") for s in self.symbols}
        self.ends = np.column_stack([ends[s]["known_at"].reindex(self.timeline).to_numpy()
                                     for s in self.symbols])
        has_bar = ~np.isnan(self.closes)
        # The last bar each symbol trades; one before the timeline's end means it was delisted.
        self.last_row = len(self.timeline) - 1 - np.argmax(has_bar[::-1], axis=0)
        self.delisted = self.last_row < len(self.timeline) - 1
        wanted = signals.pivot(index="timestamp", columns="symbol", values="position")
        self.signal_matrix = wanted.reindex(index=self.timeline, columns=self.symbols).to_numpy()
        self.folds = self._folds(signals)

        n = len(self.symbols)
        self.weights = np.full(n, config.symbol_weight or 1.0 / n)
        self.cash = config.initial_capital
        self.shares = np.zeros(n)
        self.last_price = np.zeros(n)
        self.requested = np.zeros(n)  # the latest signal per symbol
        self.target = np.zeros(n)  # equity fraction the book holds or has ordered
        self.pending = np.full(n, np.nan)  # equity fraction to reach at the next fill
        self.order_equity = np.zeros(n)  # equity when the pending order was decided
        self.order_reason = np.full(n, "signal", dtype=object)  # "signal" or "stop"
        self.order_row = np.zeros(n, dtype=np.int64)  # the bar the pending order was decided at
        self.flows = np.zeros(n)  # money paid for fills during the current bar
        self.trades: list[tuple] = []

    def _matrix(self, frames: dict[str, pd.DataFrame], column: str) -> np.ndarray:
        return np.column_stack(
            [frames[s][column].reindex(self.timeline).to_numpy(np.float64) for s in self.symbols]
        )

    def _folds(self, signals: pd.DataFrame) -> np.ndarray | None:
        if "fold" not in signals.columns:
            return None
        latest = signals.groupby("timestamp")["fold"].max()
        return latest.reindex(self.timeline).ffill().to_numpy()

    def run(self, progress: bool) -> BacktestResult:
        config, n_bars = self.config, len(self.timeline)
        records = np.zeros((n_bars, 4))  # equity, cash, gross exposure, traded notional
        symbol_pnl = np.zeros((n_bars, len(self.symbols)))
        holdings = np.zeros((n_bars, len(self.symbols)))
        stops: list[pd.Timestamp] = []
        equity, day, day_start, stopped_day = config.initial_capital, None, 0.0, None
        for row in tqdm(range(n_bars), desc="backtest", unit="bar", disable=not progress):
            if self.periods[row] != day:
                day, day_start = self.periods[row], equity
            has_bar = ~np.isnan(self.closes[row])
            value_before = self.shares * self.last_price
            self.flows[:] = 0.0
            traded_before = len(self.trades)

            if config.fill == "next_open":
                self._fill_pending(row, has_bar, self.opens[row], self.timeline[row])
            self.last_price[has_bar] = self.closes[row, has_bar]
            if config.fill == "next_close":
                self._fill_pending(row, has_bar, self.closes[row], None)
            for symbol in np.flatnonzero((self.last_row == row) & self.delisted):
                end = self.ends[row, symbol]
                self._trade(row, symbol, 0.0, self.closes[row, symbol], "delisted", (end, end))
                self.pending[symbol], self.target[symbol] = np.nan, 0.0

            value = self.shares * self.last_price
            symbol_pnl[row] = value - value_before - self.flows
            equity = self.cash + value.sum()
            if stopped_day != day and config.risk.stop_hit(equity, day_start):
                stopped_day = day
                stops.append(self.timeline[row])
                self._flatten_all(row, equity)

            fresh = ~np.isnan(self.signal_matrix[row])
            self.requested[fresh] = self.signal_matrix[row, fresh]
            if stopped_day != day:
                self._place_orders(row, has_bar, equity)
            traded = sum(abs(t[3]) * t[4] for t in self.trades[traded_before:])
            records[row] = equity, self.cash, np.abs(value).sum() / equity, traded
            holdings[row] = value / equity
        return self._result(records, symbol_pnl, holdings, stops)

    def _fill_pending(self, row: int, has_bar: np.ndarray, prices: np.ndarray,
                      opened: pd.Timestamp | None) -> None:
        """Fill the pending orders at ``prices``: at the bar's open time ``opened``, or at its
        end when None (``next_close``)."""
        for symbol in np.flatnonzero(has_bar & ~np.isnan(self.pending)):
            price = prices[symbol]
            wanted_shares = self.pending[symbol] * self.order_equity[symbol] / price
            times = (self.ends[self.order_row[symbol], symbol],
                     self.ends[row, symbol] if opened is None else opened)
            self._trade(row, symbol, wanted_shares, price, self.order_reason[symbol], times)
            self.pending[symbol] = np.nan

    def _trade(self, row: int, symbol: int, wanted_shares: float, price: float, reason: str,
               times: tuple[pd.Timestamp, pd.Timestamp]) -> None:
        """Trade to ``wanted_shares``; ``times`` are (decided_at, filled_at)."""
        quantity = wanted_shares - self.shares[symbol]
        if quantity == 0.0:
            return
        cost = self.config.costs.cost(quantity, price)
        self.cash -= quantity * price + cost
        self.flows[symbol] += quantity * price + cost
        self.shares[symbol] = wanted_shares
        side = "buy" if quantity > 0 else "sell"
        stamp = self.timeline[row]
        self.trades.append((stamp, self.symbols[symbol], side, abs(quantity), price, cost, reason,
                            *times))

    def _flatten_all(self, row: int, equity: float) -> None:
        """Order every position and every open order to flat (the daily loss stop)."""
        exposed = (self.shares != 0.0) | (self.target != 0.0)
        self.pending[exposed] = 0.0
        self.order_equity[exposed] = equity
        self.order_reason[exposed] = "stop"
        self.order_row[exposed] = row
        self.target[:] = 0.0

    def _place_orders(self, row: int, has_bar: np.ndarray, equity: float) -> None:
        tradable = row < self.last_row  # a symbol at its last bar has no next bar to fill at
        wanted = self.config.risk.limit(np.where(tradable, self.requested, 0.0), self.weights)
        changed = has_bar & tradable & (wanted != self.target)
        self.pending[changed] = wanted[changed]
        self.order_equity[changed] = equity
        self.order_reason[changed] = "signal"
        self.order_row[changed] = row
        self.target[changed] = wanted[changed]

    def _result(
        self,
        records: np.ndarray,
        symbol_pnl: np.ndarray,
        holdings: np.ndarray,
        stops: list[pd.Timestamp],
    ) -> BacktestResult:
        equity = pd.DataFrame(records, columns=["equity", "cash", "gross_exposure", "traded"])
        equity.insert(0, "timestamp", self.timeline)
        trades = pd.DataFrame(self.trades, columns=TRADE_COLUMNS)
        equity["costs"] = (
            trades.groupby("timestamp")["cost"].sum().reindex(self.timeline, fill_value=0.0)
        ).to_numpy().cumsum()
        previous = np.concatenate([[self.config.initial_capital], records[:-1, 0]])
        equity["return"] = records[:, 0] / previous - 1.0
        if self.folds is not None:
            equity["fold"] = self.folds
        pnl = pd.DataFrame(symbol_pnl, index=self.timeline, columns=self.symbols)
        held = pd.DataFrame(holdings, index=self.timeline, columns=self.symbols)
        return BacktestResult(equity, trades, pnl, held, stops, self.config)
