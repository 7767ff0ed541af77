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
- an answer from a worker whose average load is above the least busy worker's by
  ``rebalance_margin`` requests (and by a quarter of its own) asks its client to reconnect
  (``connection: close``), so keep-alive clients spread over the API workers by load
  (`serving.balance`).
"""

from __future__ import annotations

import functools
import hmac
import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import JSONResponse, Response

from contract.errors import TradecastError
from serving.balance import WorkerLoads, open_worker_loads
from serving.config import serving_workers
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
    rebalance_margin: float = 1.5  # close a connection when this worker's average load is this
    # many requests (and a quarter of its own) above the least busy worker's; 0: never
    direct_routes: bool = True  # answer the direct routes here (serving.direct); False: BentoML

    @classmethod
    def from_env(cls) -> GuardConfig:
        return cls(
            max_body_bytes=int(os.environ.get("TRADECAST_MAX_BODY_BYTES", cls.max_body_bytes)),
            api_key=os.environ.get("TRADECAST_API_KEY") or None,
            rebalance_margin=float(os.environ.get("TRADECAST_REBALANCE_MARGIN",
                                                  cls.rebalance_margin)),
            direct_routes=os.environ.get("TRADECAST_DIRECT_ROUTES", "1") != "0",
        )

    def __repr__(self) -> str:  # keeps the key out of any log line that prints the config
        key = "set" if self.api_key else None
        return (f"GuardConfig(max_body_bytes={self.max_body_bytes}, api_key={key}, "
                f"rebalance_margin={self.rebalance_margin}, direct_routes={self.direct_routes})")


class RequestGuard:
    """ASGI middleware: content type, body size, API key, the offline index page, the direct
    routes and the spreading of clients over the workers (``loads``: this worker's
    `WorkerLoads`; by default opened when BentoML runs several API workers)."""

    def __init__(self, app: Any, config: GuardConfig | None = None,
                 loads: WorkerLoads | None = None) -> None:
        self.app = app
        self.config = config or GuardConfig.from_env()
        self.loads = loads or open_worker_loads(serving_workers(), self.config.rebalance_margin)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        if path == "/" and method in ("GET", "HEAD"):
            return await self.respond(send, 200, INDEX_HTML, b"text/html; charset=utf-8")
        if method != "POST":
            return await self.app(scope, receive, send)
        if self.loads is None:
            return await self.answer(scope, receive, send)
        self.loads.change(+1)  # POSTs only: a dashboard's event stream holds a GET for an hour
        try:
            await self.answer(scope, receive, closing(send, self.loads.shed))
        finally:
            self.loads.change(-1)

    async def answer(self, scope: dict, receive: Callable, send: Callable) -> None:
        """A POST: checked, then answered by its direct route or by BentoML."""
        path = scope["path"]
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


def closing(send: Callable, wanted: Callable[[], bool]) -> Callable:
    """``send`` that adds ``connection: close`` to the answer when ``wanted()`` says so at the
    moment the answer starts (uvicorn then closes the connection once it is sent)."""

    async def send_closing(message: dict) -> None:
        if message["type"] == "http.response.start" and wanted():
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
