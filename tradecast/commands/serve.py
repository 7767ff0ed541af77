"""`tradecast serve` and `tradecast signals`."""

from tradecast.options import HomeOption


def start_serve(home: HomeOption = None) -> None:
    """Serve the exported models over HTTP."""
    raise NotImplementedError


def start_signals(home: HomeOption = None) -> None:
    """Generate signals in batch."""
    raise NotImplementedError
