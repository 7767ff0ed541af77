"""Serving's own failures, each a `TradecastError` that maps onto one HTTP status.

The service turns these into a JSON answer ``{"error": ..., "field": ...}`` with the status
below; anything else is a bug and becomes a 500.
"""

from __future__ import annotations

from contract.errors import ArtifactError, BarDataError, TradecastError, UnknownSymbolError


class InputError(BarDataError):
    """A request whose content cannot be used (too few bars, non-finite values): HTTP 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field  # the request field at fault, e.g. "bars[12].close"


class StaleBarError(InputError):
    """A bar older than the last one ingested for its symbol: HTTP 409."""


class UnknownVariantError(ArtifactError, LookupError):
    """A variant that the manifest does not list: HTTP 404."""


def http_status(error: TradecastError) -> int:
    """The HTTP status for an expected failure."""
    if isinstance(error, StaleBarError):
        return 409
    if isinstance(error, (UnknownVariantError, UnknownSymbolError)):
        return 404
    if isinstance(error, BarDataError):
        return 422
    return 503  # an artifact problem on our side (e.g. a reload that failed)
