"""`tradecast export`."""

from tradecast.options import HomeOption


def start_export(home: HomeOption = None) -> None:
    """Export model variants to ONNX."""
    raise NotImplementedError
