"""HTTP hardening in front of the BentoML app, and the JSON answer for expected failures.

BentoML 1.4, left alone, ignores the content type (and answers a multipart body without a
boundary with a 500), accepts any body size, and serves a Swagger page that loads a script from
an outside host. `RequestGuard` decides each of these before BentoML sees the request:

- a POST with a body must be ``application/json``, else 415;
- a body larger than ``max_body_bytes`` is refused with 413 (read and counted, so a missing or
  lying Content-Length does not get around it);
- when an API key is configured, the protected paths need it in the ``X-API-Key`` header (401);
  the key is compared in constant time and never logged;
- ``GET /`` serves a Swagger page whose scripts all come from this server;
- a POST to a direct route (`serving.direct`; the service names them in `DIRECT_ROUTES`) is
  answered here, as BentoML would answer it, without BentoML's per-request dispatch;
- about one answer in ``reconnect_every`` asks the client to reconnect (``connection: close``).
  The API workers share one listening socket, and Linux hands a burst of new connections to
  whichever worker wakes first; keep-alive then pins them there (measured: one worker did all
  the work of 8 closed-loop users while the other idled). A fresh connection goes to a worker
  that is free to accept, so the load spreads, for one TCP handshake per ``reconnect_every``
  requests.
"""

from __future__ import annotations

import functools
import hmac
import inspect
import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import JSONResponse, Response

from contract.errors import TradecastError
from serving.direct import ROUTES
from serving.errors import http_status

API_KEY_HEADER = "x-api-key"

INDEX_HTML = b"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8"><title>tradecast API</title>
  <link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css" />
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="./static_content/swagger-ui-bundle.js" charset="UTF-8"></script>
  <script src="./static_content/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
  <script>
    window.onload = function () {
      window.ui = SwaggerUIBundle({
        url: "./docs.json", dom_id: "#swagger-ui", validatorUrl: null,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
        layout: "StandaloneLayout",
      });
    };
  </script>
</body>
</html>
"""


@dataclass(frozen=True)
class GuardConfig:
    max_body_bytes: int = 2_000_000  # a 5000-bar predict request is about 0.6 MB
    protected_paths: tuple[str, ...] = ("/ingest", "/reload")  # need the API key when one is set
    api_key: str | None = None  # TRADECAST_API_KEY; None: no key needed
    reconnect_every: int = 8  # about one answer in this many closes its connection; 0: never
    direct_routes: bool = True  # answer the direct routes here (serving.direct); False: BentoML

    @classmethod
    def from_env(cls) -> GuardConfig:
        return cls(
            max_body_bytes=int(os.environ.get("TRADECAST_MAX_BODY_BYTES", cls.max_body_bytes)),
            api_key=os.environ.get("TRADECAST_API_KEY") or None,
            reconnect_every=int(os.environ.get("TRADECAST_RECONNECT_EVERY",
                                               cls.reconnect_every)),
            direct_routes=os.environ.get("TRADECAST_DIRECT_ROUTES", "1") != "0",
        )

    def __repr__(self) -> str:  # keeps the key out of any log line that prints the config
        key = "set" if self.api_key else None
        return (f"GuardConfig(max_body_bytes={self.max_body_bytes}, api_key={key}, "
                f"reconnect_every={self.reconnect_every}, direct_routes={self.direct_routes})")


class RequestGuard:
    """ASGI middleware: content type, body size, API key and the offline index page."""

    def __init__(self, app: Any, config: GuardConfig | None = None) -> None:
        self.app = app
        self.config = config or GuardConfig.from_env()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        if path == "/" and method in ("GET", "HEAD"):
            return await self.respond(send, 200, INDEX_HTML, b"text/html; charset=utf-8")
        if method != "POST":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if path in self.config.protected_paths and not self.authorised(headers):
            return await self.error(send, 401, f"missing or wrong {API_KEY_HEADER} header")
        body = await self.read_body(receive)
        if body is None:
            limit = self.config.max_body_bytes
            return await self.error(send, 413, f"request body larger than {limit} bytes")
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if body and content_type != b"application/json":
            shown = content_type.decode("latin-1") or "none"
            message = f"content-type must be application/json, not {shown}"
            return await self.error(send, 415, message)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:  # after the body, report what the client does (e.g. disconnect)
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        every = self.config.reconnect_every
        if every and random.random() * every < 1:
            send = closing(send)
        route = ROUTES.get(path) if self.config.direct_routes else None
        if route is not None:  # answered here, as BentoML would (serving.direct)
            response = await route.answer(body)
            return await response(scope, replay, send)
        await self.app(scope, replay, send)

    def authorised(self, headers: dict[bytes, bytes]) -> bool:
        expected = self.config.api_key
        if expected is None:
            return True
        given = headers.get(API_KEY_HEADER.encode(), b"")
        return hmac.compare_digest(given, expected.encode())

    async def read_body(self, receive: Callable) -> bytes | None:
        """The whole body, or None once it passes the size limit."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.config.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def error(self, send: Callable, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        await self.respond(send, status, body, b"application/json")

    @staticmethod
    async def respond(send: Callable, status: int, body: bytes, content_type: bytes) -> None:
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def closing(send: Callable) -> Callable:
    """``send`` that adds ``connection: close`` to the answer (uvicorn then closes it)."""

    async def send_closing(message: dict) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []),
                                              (b"connection", b"close")]}
        await send(message)

    return send_closing


def json_answer(body: dict) -> Response:
    """A 200 JSON answer, serialised once (BentoML would validate it against the response model
    again, then serialise it: the model only documents it)."""
    return Response(orjson.dumps(body), media_type="application/json")


def error_response(error: TradecastError) -> JSONResponse:
    answer = {"error": str(error)}
    if field := getattr(error, "field", None):
        answer["field"] = field
    return JSONResponse(answer, status_code=http_status(error))


def answers_errors(endpoint: Callable) -> Callable:
    """Turn an expected failure into a JSON answer with its 4xx status (not BentoML's 500)."""
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await endpoint(*args, **kwargs)
            except TradecastError as error:
                return error_response(error)

        return async_wrapper

    @functools.wraps(endpoint)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return endpoint(*args, **kwargs)
        except TradecastError as error:
            return error_response(error)

    return wrapper
