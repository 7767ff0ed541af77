"""Risk limits: per-symbol and gross position caps, and the daily loss stop.

Positions here are fractions of equity (a signal's position times the symbol's weight).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class RiskLimits:
    max_position: float = 1.0  # cap on |signal position| per symbol, in signal units
    max_gross: float = 1.0  # cap on the sum of |position| x weight over symbols (1 = no leverage)
    daily_loss_stop: float | None = 0.05  # day's loss that flattens until the day ends; None: off

    def limit(self, wanted: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Equity fractions to hold: ``wanted`` capped per symbol, then scaled to ``max_gross``."""
        fractions = np.clip(wanted, -self.max_position, self.max_position) * weights
        gross = np.abs(fractions).sum()
        if gross > self.max_gross:
            fractions = fractions * (self.max_gross / gross)
        return fractions

    def stop_hit(self, equity: float, day_start_equity: float) -> bool:
        """True when the loss since the start of the day passes the daily loss stop."""
        if self.daily_loss_stop is None:
            return False
        return equity < day_start_equity * (1.0 - self.daily_loss_stop)


def trading_periods(timestamps: pd.DatetimeIndex) -> np.ndarray:
    """Per bar, the period a daily loss stop covers: its UTC calendar day (one bar if daily)."""
    return timestamps.normalize().asi8
