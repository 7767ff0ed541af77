"""The tradecast HTTP API: `bentoml serve serving.service:TradecastService`.

The home folder comes from TRADECAST_HOME (`tradecast serve --home` sets it). Every model in the
manifest is loaded at start-up; the live state is restored from the home's state folder.
The endpoints only translate between HTTP bodies and `serving.pipeline` / `serving.live`.
They are `async` on purpose: the work is a few milliseconds of CPU, and handing it to a thread
pool cost more than it saved (measured here); `reload` takes seconds, so it runs in a thread.
"""

from __future__ import annotations

import os

import bentoml

from features.home import resolve_home
from serving.dashboard.app import app as dashboard_app
from serving.dashboard.app import open_portfolio
from serving.dashboard.paths import paper_dir
from serving.dashboard.portfolio import observe_ingest
from serving.ensemble import validation_weights
from serving.http import RequestGuard, answers_errors
from serving.live import IngestResult, LiveBook
from serving.pipeline import (
    Forecaster,
    bars_frame,
    config_from_env,
    context_frames,
    forecast_dict,
    point_known_at,
    with_attention,
)
from serving.registry import ModelRegistry
from serving.schemas import (
    Forecast,
    IngestRequest,
    IngestResponse,
    ModelsResponse,
    PredictRequest,
    ReloadResponse,
    SignalsRequest,
    SignalsResponse,
)


def ingest_response(result: IngestResult, return_attention: bool) -> IngestResponse:
    return IngestResponse(
        symbol=result.symbol, timestamp=result.timestamp, added=result.added, bars=result.bars,
        bars_needed=result.bars_needed,
        forecast=with_attention(result.forecast, return_attention),
    )


# BentoML's access log line costs about 2.7 ms per request (measured here: most of the
# framework's overhead); request counts and latencies stay on /metrics. TRADECAST_ACCESS_LOG=1
# turns it back on.
ACCESS_LOG = os.environ.get("TRADECAST_ACCESS_LOG", "0") == "1"


@bentoml.asgi_app(dashboard_app, path="/ui")  # the dashboard and its API: /ui, /ui/api
@bentoml.service(
    name="tradecast", workers=1, traffic={"timeout": 60},
    logging={"access": {"enabled": ACCESS_LOG}},
)
class TradecastService:
    def __init__(self) -> None:
        home = resolve_home(None)
        config = config_from_env()
        self.registry = ModelRegistry(home.exported_dir, config.intra_op_threads)
        self.forecaster = Forecaster(self.registry, config)
        self.forecaster.warm_up()
        self.live = LiveBook(config.state_dir or home.state_dir / "live", self.forecaster)
        self.portfolio = open_portfolio(home, paper_dir(home))  # the dashboard's paper book

    @bentoml.api
    @answers_errors
    async def predict(self, request: PredictRequest, /) -> Forecast:
        """Forecast and signal (from flat) from a window of bars."""
        result = self.forecaster.forecast_bars(
            request.symbol,
            bars_frame([vars(bar) for bar in request.bars],  # model_dump: 120 copies
                       timeframe=request.timeframe, calendar=request.calendar),
            context_frames(request.context),
            request.variant,
            request.position,
        )
        return Forecast.model_validate(forecast_dict(result, request.return_attention))

    @bentoml.api
    @answers_errors
    async def ingest(self, request: IngestRequest, /) -> IngestResponse:
        """Add a symbol's newest bar to its live state; the same bar twice changes nothing."""
        context = {name: {**point.model_dump(), "known_at": point_known_at(vars(point))}
                   for name, point in (request.context or {}).items()}
        bar = request.bar.model_dump()
        bar["known_at"] = point_known_at(bar, request.timeframe, request.calendar)
        result = self.live.ingest(request.symbol, bar, context)
        observe_ingest(self.portfolio, result, request.bar.close)
        return ingest_response(result, request.return_attention)

    @bentoml.api
    @answers_errors
    async def signals(self, request: SignalsRequest, /) -> SignalsResponse:
        """The latest live forecast and signal of each symbol."""
        latest = {
            symbol: with_attention(self.live.latest(symbol).forecast, request.return_attention)
            for symbol in request.symbols
        }
        return SignalsResponse(signals=latest)

    @bentoml.api
    async def models(self) -> ModelsResponse:
        """The loaded variants with their versions and metadata."""
        models = self.registry.models
        weights = validation_weights(models)
        return ModelsResponse(
            models=[
                {"variant": name, "version": a.version, "feature_names": a.feature_names,
                 "ensemble_weight": weights[name], "metadata": a.metadata}
                for name, a in models.items()
            ],
            live_variant=self.forecaster.config.live_variant,
        )

    @bentoml.api
    @answers_errors
    def reload(self) -> ReloadResponse:
        """Re-read exported_models/manifest.json and swap the models in (old ones kept on error)."""
        return ReloadResponse(versions=self.registry.reload())

    @bentoml.on_shutdown
    def persist_live_state(self) -> None:
        self.live.close()


TradecastService.add_asgi_middleware(RequestGuard)
