"""The tradecast HTTP API: `bentoml serve serving.service:TradecastService`.

Two services, in BentoML's idiom:

- `TradecastService`, the public API: stateless, one worker process per core by default
  (TRADECAST_WORKERS or `tradecast serve --workers N`). It answers predict itself (every worker
  holds every model) and passes live-state requests on to
- `LiveState`, one worker: the only writer of the live state (streaming engine, signal rule
  state, journal), so each symbol's bars are applied exactly once, in order, whatever worker
  received them. The API calls it through `bentoml.depends` (HTTP on a local socket).

The home folder comes from TRADECAST_HOME (`tradecast serve --home` sets it). The endpoints only
declare the HTTP surface; `serving.answers` does the work.

`predict` checks its request on the event loop and hands the model run to `serving.coalesce`:
requests that wait at the same moment share one batched run, in a thread per variant, so a long
`full` run never holds up a `hybrid` request. `predict_many` (a batch: tens of milliseconds)
and `reload` (seconds) stay plain functions, run off the loop so that one long request does not
stall the worker's other connections. The live-state calls only wait on the other service, so
they are `async`. The endpoints called at every bar (`DIRECT_ROUTES`) are answered by
`serving.direct` in the `RequestGuard` middleware, with the input models BentoML builds from
these signatures, before BentoML's per-request dispatch.
"""

from __future__ import annotations

import asyncio
import gc

import bentoml
import orjson

from serving import answers
from serving.coalesce import Coalescer
from serving.config import framework_logging, framework_tracing, serving_workers
from serving.dashboard.app import app as dashboard_app
from serving.direct import serve_directly
from serving.http import RequestGuard, answers_errors, json_answer
from serving.schemas import (
    Forecast,
    IngestManyRequest,
    IngestManyResponse,
    IngestRequest,
    IngestResponse,
    ModelsResponse,
    PredictManyRequest,
    PredictManyResponse,
    PredictRequest,
    ReloadResponse,
    SignalsRequest,
    SignalsResponse,
)

# Answered by serving.direct before BentoML's dispatch: the endpoints called at every bar.
DIRECT_ROUTES = ("predict", "ingest", "ingest_many", "signals")
FRAMEWORK = {"logging": framework_logging(), "tracing": framework_tracing()}  # both cost time


def freeze_startup_objects() -> None:
    """Keep the objects made at start-up (models, kernels, libraries: about 230,000) out of
    the garbage collector's full passes: a full pass over them took about 130 ms on the loaded
    2-core machine, a stall for every request in flight on that worker. Rare (none in 3,000
    predicts in process), but a long soak meets them. Call once a worker is warmed up."""
    gc.collect()
    gc.freeze()


@bentoml.service(name="tradecast-live", workers=1, traffic={"timeout": 60}, **FRAMEWORK)
class LiveState:
    """Every symbol's live state, durable across restarts; one writer.

    Each method answers JSON bytes that the API reads back (`call_live`): for a ``dict``
    answer BentoML would validate it into a model, pickle it and rebuild the model's JSON
    schema every time, about 0.5 ms of this process per ingest (measured), then validate it
    again on the way in.
    """

    def __init__(self) -> None:
        self.book = answers.open_live_book()
        self.portfolio = answers.open_paper_portfolio()  # the dashboard's paper book
        freeze_startup_objects()

    @bentoml.api
    async def ingest(self, symbols: list[str], stamps: list[int], values: list[list[float]],
                     known_at: list[int], context: dict[str, list[float]], field: str = "bars",
                     return_attention: bool = False) -> bytes:
        """One bar per symbol (ns open and known-at times, OHLCV rows), applied together with
        one fsync; each new bar's target also moves the paper portfolio."""
        return answers.envelope(answers.live_ingest, self.book, self.portfolio, symbols, stamps,
                                values, known_at, context, field, return_attention)

    @bentoml.api
    async def portfolio_summary(self, max_points: int = 1000) -> bytes:
        """The paper portfolio as the dashboard shows it."""
        return json_answer(self.portfolio.summary(max_points))

    @bentoml.api
    async def settings_changed(self) -> bytes:
        """Re-read the dashboard's settings (costs, limits) into the paper portfolio."""
        return json_answer(answers.apply_saved_settings(self.portfolio))

    @bentoml.api
    async def signals(self, symbols: list[str] | None = None,
                      return_attention: bool = False) -> bytes:
        """The latest forecast of each symbol (None: every symbol with live state)."""
        return answers.envelope(answers.live_signals, self.book, symbols, return_attention)

    @bentoml.on_shutdown
    def persist(self) -> None:
        self.book.close()


@bentoml.asgi_app(dashboard_app, path="/ui")  # the dashboard and its API: /ui, /ui/api
@bentoml.service(name="tradecast", workers=serving_workers(), traffic={"timeout": 60},
                 **FRAMEWORK)
class TradecastService:
    live = bentoml.depends(LiveState)

    def __init__(self) -> None:
        self.forecaster = answers.open_forecaster()
        self.coalescer = Coalescer(self.forecaster)  # predicts that wait together run together
        self.live_lock = asyncio.Lock()
        serve_directly(TradecastService, self, DIRECT_ROUTES)
        freeze_startup_objects()

    async def call_live(self, method: str, **kwargs: object) -> dict:
        # One call at a time per worker: BentoML 1.4.40's client closes its HTTP session every
        # 100 requests, cutting the calls still in flight on it ("Server disconnected"). The
        # live state applies one request at a time anyway, so little is lost.
        async with self.live_lock:
            return orjson.loads(await getattr(self.live.to_async, method)(**kwargs))

    @bentoml.api
    @answers_errors
    async def predict(self, request: PredictRequest, /) -> Forecast:
        """Forecast and signal (from flat) from a window of bars."""
        return await answers.predict_answer(self.coalescer, request)

    @bentoml.api
    @answers_errors
    def predict_many(self, request: PredictManyRequest, /) -> PredictManyResponse:
        """`predict` for many symbols in one request; the model runs batched across them."""
        return answers.predict_many_answer(self.forecaster, request)

    @bentoml.api
    @answers_errors
    async def ingest(self, request: IngestRequest, /) -> IngestResponse:
        """Add a symbol's newest bar to its live state; the same bar twice changes nothing."""
        answer = await self.call_live("ingest", **answers.ingest_input(request))
        return answers.relay(answer, lambda body: body["results"][request.symbol])

    @bentoml.api
    @answers_errors
    async def ingest_many(self, request: IngestManyRequest, /) -> IngestManyResponse:
        """One new bar for each of many symbols (a universe at one tick), one fsync for all."""
        return answers.relay(await self.call_live("ingest", **answers.ingest_many_input(request)))

    @bentoml.api
    @answers_errors
    async def signals(self, request: SignalsRequest, /) -> SignalsResponse:
        """The latest live forecast and signal of each symbol."""
        return answers.relay(await self.call_live(
            "signals", symbols=request.symbols, return_attention=request.return_attention))

    @bentoml.api
    async def models(self) -> ModelsResponse:
        """The loaded variants with their versions and metadata."""
        return answers.models_answer(self.forecaster)

    @bentoml.api
    @answers_errors
    def reload(self) -> ReloadResponse:
        """Re-read exported_models/manifest.json and swap the models in (old ones kept on error);
        the other workers and the live state pick the new manifest up on their next request."""
        return ReloadResponse(versions=self.forecaster.registry.reload())


TradecastService.add_asgi_middleware(RequestGuard)
