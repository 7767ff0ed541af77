"""What each endpoint does, as plain functions of validated requests; `serving.service` only
declares the endpoints and calls these. A request goes: `serving.bodies` (checked arrays),
`serving.forecasting` (the model and the signal rule) or `serving.live` (the live state), then
`serving.responses` (the JSON body), written once by `serving.http.json_answer`.

The API service (several stateless workers) answers predict itself and hands every live-state
request to the one `LiveState` process, as plain JSON: `ingest_input` and `ingest_many_input`
turn a checked request into that JSON, `live_ingest` and `live_signals` run in the live-state
process, and an expected failure there comes back as an error envelope (`envelope`) that
`relay` turns into the same 4xx answer a single process would give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from starlette.responses import JSONResponse, Response

from contract.errors import TradecastError
from contract.home import resolve_home
from serving import bodies
from serving.bodies import bar_series, context_frames, ingest_arrays
from serving.coalesce import Coalescer
from serving.config import config_from_env
from serving.dashboard.app import apply_settings, load_settings, open_portfolio
from serving.dashboard.paths import paper_dir
from serving.dashboard.portfolio import PaperPortfolio, observe_ingest
from serving.errors import http_status
from serving.forecasting import Forecaster, SeriesInput
from serving.http import json_answer
from serving.live import LiveBook
from serving.registry import ModelRegistry
from serving.responses import (
    forecast_body,
    forecasts_body,
    ingests_body,
    maybe_forecast_body,
    models_body,
    signals_body,
)
from serving.schemas import IngestManyRequest, IngestRequest, PredictManyRequest, PredictRequest


def open_forecaster() -> Forecaster:
    """The models of the home in TRADECAST_HOME, loaded, and the request path warmed up."""
    config = config_from_env()
    forecaster = Forecaster(ModelRegistry(resolve_home(None).exported_dir,
                                          config.intra_op_threads), config)
    forecaster.warm_up()
    bodies.warm_up()
    return forecaster


def open_live_book() -> LiveBook:
    """The live state (restored from its folder) with its own copy of the models."""
    forecaster = open_forecaster()
    state_dir = forecaster.config.state_dir or resolve_home(None).state_dir / "live"
    return LiveBook(state_dir, forecaster)


def open_paper_portfolio() -> PaperPortfolio:
    """The dashboard's paper portfolio of the home, with its saved settings."""
    home = resolve_home(None)
    return open_portfolio(home, paper_dir(home))


def apply_saved_settings(portfolio: PaperPortfolio) -> dict:
    settings = load_settings(resolve_home(None))
    apply_settings(portfolio, settings)
    return settings.model_dump()


async def predict_answer(coalescer: Coalescer, request: PredictRequest) -> Response:
    bars = bar_series(request.bars, timeframe=request.timeframe, calendar=request.calendar)
    item = SeriesInput(request.symbol, bars, context_frames(request.context), request.position)
    result = await coalescer.forecast(item, request.variant)
    return json_answer(forecast_body(result, request.return_attention))


def predict_many_answer(forecaster: Forecaster, request: PredictManyRequest) -> Response:
    inputs, fields = [], []
    for index, entry in enumerate(request.requests):
        field = f"requests[{index}]"
        inputs.append(SeriesInput(
            entry.symbol, bar_series(entry.bars, f"{field}.bars", timeframe=entry.timeframe,
                                     calendar=entry.calendar),
            context_frames(entry.context, f"{field}.context"), entry.position,
        ))
        fields.append(f"{field}.bars")
    results = forecaster.forecast_many(inputs, request.variant, fields)
    return json_answer(forecasts_body(results, request.return_attention))


def ingest_input(request: IngestRequest) -> dict:
    """The live-state service's input for one bar."""
    arrays = ingest_arrays({request.symbol: request.bar}, request.context, lambda _: "bar",
                           timeframe=request.timeframe, calendar=request.calendar)
    return {**arrays, "field": "bar", "return_attention": request.return_attention}


def ingest_many_input(request: IngestManyRequest) -> dict:
    """The live-state service's input for one bar per symbol."""
    arrays = ingest_arrays(request.bars, request.context, lambda symbol: f"bars.{symbol}",
                           timeframe=request.timeframe, calendar=request.calendar)
    return {**arrays, "field": "bars", "return_attention": request.return_attention}


def live_ingest(book: LiveBook, portfolio: PaperPortfolio, symbols: list[str],
                stamps: list[int], values: list[list[float]], known_at: list[int],
                context: dict[str, list[float]], field: str, return_attention: bool) -> dict:
    """In the live-state process: apply the bars, move the paper portfolio by the new targets;
    {"results": {symbol: ingest answer}}."""
    def where(symbol: str) -> str:
        return field if field == "bar" else f"{field}.{symbol}"

    results = book.ingest_many(
        symbols, np.asarray(stamps, dtype=np.int64), np.asarray(values, dtype=np.float64),
        {name: (int(point[0]), float(point[1]), int(point[2])) for name, point in context.items()},
        where, known_at=np.asarray(known_at, dtype=np.int64),
    )
    for result, row in zip(results, values, strict=True):  # row: OHLCV, the close fills
        observe_ingest(portfolio, result, row[3], maybe_forecast_body(result.forecast, True))
    return ingests_body(results, return_attention)


def live_signals(book: LiveBook, symbols: list[str] | None, return_attention: bool) -> dict:
    """In the live-state process: the latest forecast of ``symbols`` (None: every live one)."""
    chosen = sorted(book.symbols) if symbols is None else symbols
    return signals_body({s: book.latest(s).forecast for s in chosen}, return_attention)


def models_answer(forecaster: Forecaster) -> Response:
    return json_answer(models_body(forecaster))


def envelope(call: Callable[..., dict], *args: Any) -> Response:
    """``call(*args)``, or an expected failure as {"error", "field", "status"} (for `relay`),
    as the live-state service answers: JSON bytes (see `LiveState`)."""
    try:
        return json_answer(call(*args))
    except TradecastError as error:
        return json_answer({"error": str(error), "field": getattr(error, "field", None),
                            "status": http_status(error)})


def relay(answer: dict, pick: Callable[[dict], dict] | None = None) -> Response:
    """The live-state service's answer as the API's: its error envelope as that 4xx."""
    if "status" in answer and "error" in answer:
        body = {"error": answer["error"]}
        if answer.get("field"):
            body["field"] = answer["field"]
        return JSONResponse(body, status_code=answer["status"])
    return json_answer(pick(answer) if pick else answer)
