"""A requests transport for tests: the real client, sent to a local address instead."""

from __future__ import annotations

from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter


class SendTo(HTTPAdapter):
    """Sends every request of a requests session to ``base_url``, keeping path and query."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.url = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **kwargs)
