"""Fixtures for the backtest tests: the real sample bars from the bar store."""

from __future__ import annotations

import pandas as pd
import pytest

from contract.home import Home
from marketdata.store import BarStore

SAMPLE_STOCKS = ("AAPL", "GOOG", "INTC", "SPY")


@pytest.fixture(scope="session")
def sample_bars(sample_home: Home) -> dict[str, pd.DataFrame]:
    """Daily bars of the sample's stocks, read from the real bar store."""
    store = BarStore(sample_home.bars_dir)
    return {symbol: store.read(symbol, "1d") for symbol in SAMPLE_STOCKS}
