"""Errors that carry a message a user can act on.

The CLI prints ``error: <message>`` for any :class:`TradecastError` and exits with status 1,
so every message must say what is wrong and where (file, row, field), in one line.
"""


class TradecastError(Exception):
    """Base class for expected failures: bad input, missing artifacts, unreachable vendors."""


class BarDataError(TradecastError, ValueError):
    """Bars that cannot be used: missing columns, NaN, bad prices, duplicated or unsorted rows.

    ``field`` (when known) names the value at fault, e.g. ``bars[12].low``; the HTTP API
    returns it next to the message.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownSymbolError(TradecastError, LookupError):
    """A symbol that is not in the store, the universe or the live state."""


class ArtifactError(TradecastError):
    """A checkpoint, exported model, manifest or snapshot that is missing or inconsistent."""


class SourceError(TradecastError):
    """A data vendor failed: missing keys, rate limits that outlasted retries, bad answers."""
