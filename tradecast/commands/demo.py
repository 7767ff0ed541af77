"""`tradecast demo`: the README's main job."""

from tradecast.options import HomeOption


def start_demo(home: HomeOption = None) -> None:
    """Import the sample, train if needed, export, serve and print an example request."""
    raise NotImplementedError
