"""Direct routes: the endpoints a client calls at every bar, answered before BentoML's dispatch.

BentoML declares every endpoint (the OpenAPI page, its clients, the Bento), and its middlewares
(request counts and latencies on /metrics, the request timeout, the concurrency limit) see every
request. For a direct route, `serving.http.RequestGuard`, the last of those middlewares, then
answers the request itself, as BentoML would: the body through the endpoint's own input model
(the one BentoML builds from its signature), the service's method, the method's `Response`.
What it leaves out is BentoML's per-request dispatch: routing, its request context, its serde
and its response handling, about 0.35 ms of a predict's framework overhead (measured side
by side, README "The service"). A body the input model refuses gets BentoML's own 400 answer, so
a client cannot tell the two paths apart; ``TRADECAST_DIRECT_ROUTES=0`` sends every request
through BentoML's dispatch.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse, Response


@dataclass(frozen=True)
class DirectRoute:
    name: str  # the endpoint, e.g. "predict"
    schema: type[BaseModel]  # BentoML's input model of the endpoint
    call: Callable[[BaseModel], Awaitable[Response]]  # the service instance's method

    async def answer(self, body: bytes) -> Response:
        try:
            request = self.schema.model_validate_json(body or b"{}")
        except ValidationError as error:
            return refused(error)
        response = await self.call(request)
        if not isinstance(response, Response):  # a programming error, not a client's
            raise TypeError(f"direct route {self.name!r} must answer a Response, "
                            f"not {type(response).__name__}")
        return response


def refused(error: ValidationError) -> JSONResponse:
    """The 400 answer BentoML gives a body its input model refuses (same fields, same text)."""
    body = {"error": f"{error.error_count()} validation error for {error.title}",
            "detail": error.errors(include_context=False, include_input=False)}
    return JSONResponse(body, status_code=400)


def direct_route(service: Any, instance: object, name: str) -> DirectRoute:
    """The direct route of ``service``'s endpoint ``name`` on the worker's ``instance``.

    The endpoint must take its whole body as one positional argument (``request: Model, /``)
    and be ``async``: the route awaits it on the event loop, as BentoML does.
    """
    method = service.apis[name]
    if not getattr(method.input_spec, "__root_input__", False):
        raise ValueError(f"{name}: a direct route needs a single positional request argument")
    if not inspect.iscoroutinefunction(method.func):
        raise ValueError(f"{name}: a direct route must be async (it runs on the event loop)")
    bound = getattr(instance, name).local  # the method itself, without BentoML's client proxy
    return DirectRoute(name, method.input_spec, bound)


ROUTES: dict[str, DirectRoute] = {}  # URL path -> route; filled by the worker's service instance


def serve_directly(service: Any, instance: object, names: tuple[str, ...]) -> None:
    """Answer these endpoints of ``service`` directly in this worker process."""
    for name in names:
        ROUTES[service.apis[name].route] = direct_route(service, instance, name)
