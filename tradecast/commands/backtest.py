"""`tradecast backtest`."""

from tradecast.options import HomeOption


def start_backtest(home: HomeOption = None) -> None:
    """Backtest a signal file."""
    raise NotImplementedError
