"""The dashboard's backend: the built app under /ui and its JSON API under /ui/api.

Mounted on the BentoML service with ``@bentoml.asgi_app(app, path="/ui")``. Reads are GET and
open (the service listens on 127.0.0.1 by default); everything that starts a job or changes
state is POST and needs the ``X-API-Key`` header when ``TRADECAST_API_KEY`` is set. The models
and the forecaster are the API worker's own (``bentoml.get_current_service``); the paper
portfolio lives beside the live state in the one `LiveState` process (its only writer) and is
read through the worker's ``call_live``; long work runs as `tradecast` subprocesses
(`serving.dashboard.jobs`).
"""

from __future__ import annotations

import hmac
from functools import cache
from typing import Annotated, Any

import bentoml
from fastapi import Depends, FastAPI, Header, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse

from contract.errors import TradecastError
from contract.files import write_json_atomic
from contract.home import Home, resolve_home
from serving.dashboard import homefiles
from serving.dashboard.events import metrics_events
from serving.dashboard.forecast import forecast_at, model_rows
from serving.dashboard.jobs import JobManager
from serving.dashboard.paths import DIST_DIR, inside_home, settings_path
from serving.dashboard.portfolio import PaperPortfolio
from serving.dashboard.requests import (
    VARIANTS,
    BacktestJob,
    ExportJob,
    FetchJob,
    ImportJob,
    Settings,
    TrainJob,
    profiles,
)
from serving.errors import InputError
from serving.http import API_KEY_HEADER, GuardConfig, error_response

app = FastAPI(title="tradecast dashboard", docs_url=None, redoc_url=None, openapi_url=None)

MISSING_BUILD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tradecast dashboard: not built</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The dashboard is not built yet</h1>
<p>The service is running; only the web app's files are missing
(<code>dashboard/dist/</code>). Build them once, then reload this page:</p>
<pre>cd dashboard
npm ci
npm run build</pre>
<p>The JSON API is already answering under <code>/ui/api/</code>.</p>
</body></html>
"""


@cache
def home() -> Home:
    return resolve_home(None)


@cache
def jobs() -> JobManager:
    return JobManager(home())


def service() -> Any:
    return bentoml.get_current_service()


def require_key(key: Annotated[str | None, Header(alias=API_KEY_HEADER)] = None) -> None:
    """The API key, compared in constant time, when TRADECAST_API_KEY is set."""
    expected = GuardConfig.from_env().api_key
    if expected is not None and not hmac.compare_digest((key or "").encode(), expected.encode()):
        raise InputError(API_KEY_HEADER, "missing or wrong API key") from None


Keyed = Depends(require_key)


@app.exception_handler(TradecastError)
async def expected_failure(_request: Any, error: TradecastError) -> JSONResponse:
    if getattr(error, "field", None) == API_KEY_HEADER:
        return JSONResponse({"error": str(error), "field": API_KEY_HEADER}, status_code=401)
    return error_response(error)


@app.exception_handler(RequestValidationError)
async def invalid_request(_request: Any, error: RequestValidationError) -> JSONResponse:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"] if part not in ("body", "query", "path"))
    return JSONResponse({"error": f"{field or 'body'}: {first['msg']}", "field": field or "body"},
                        status_code=422)


# -- reads -----------------------------------------------------------------------------------

@app.get("/api/overview")
def overview() -> dict:
    return {"variants": list(VARIANTS), "profiles": profiles(),
            "api_key_required": GuardConfig.from_env().api_key is not None,
            "loaded": sorted(service().forecaster.registry.models)}


@app.get("/api/portfolio")
async def portfolio(max_points: Annotated[int, Query(ge=10, le=20_000)] = 1000) -> dict:
    # the paper book lives with the live state, in the one LiveState process
    return await service().call_live("portfolio_summary", max_points=max_points)


@app.get("/api/store")
def store() -> list[dict]:
    return homefiles.store_listing(home())


@app.get("/api/store/{timeframe}/{symbol}/quality")
def quality(timeframe: str, symbol: str) -> dict:
    return homefiles.quality(home(), symbol, timeframe)


@app.get("/api/store/{timeframe}/{symbol}/candles")
def candles(timeframe: str, symbol: str, start: str | None = None, end: str | None = None
            ) -> list[dict]:
    return homefiles.candles(home(), symbol, timeframe, start, end)


@app.get("/api/runs")
def runs() -> list[dict]:
    return homefiles.list_runs(home())


@app.get("/api/runs/{variant}/{run}")
def run(variant: str, run: str) -> dict:
    return homefiles.run_detail(home(), variant, run)


@app.get("/api/runs/{variant}/{run}/events")
def run_events(variant: str, run: str) -> StreamingResponse:
    """Server-Sent Events: each line of the run's metrics.jsonl, then `end` once it finished."""
    folder = homefiles.run_folder(home(), variant, run)
    return StreamingResponse(metrics_events(folder), media_type="text/event-stream",
                             headers={"cache-control": "no-cache"})


@app.get("/api/backtests")
def backtests() -> list[dict]:
    return homefiles.list_backtests(home())


@app.get("/api/backtests/{identifier}")
def backtest(identifier: str) -> dict:
    return homefiles.backtest_detail(home(), identifier)


@app.get("/api/models")
def models() -> dict:
    return {"models": model_rows(service().forecaster.registry),
            "live_variant": service().forecaster.config.live_variant}


@app.get("/api/forecast")
def forecast(symbol: str, variant: str = "hybrid", at: str | None = None) -> dict:
    return forecast_at(home(), service().forecaster, symbol, variant, at)


@app.get("/api/jobs")
def job_list() -> list[dict]:
    return jobs().list()


@app.get("/api/jobs/{identifier}")
def job(identifier: str) -> dict:
    return jobs().describe(identifier)


@app.get("/api/settings")
def settings() -> dict:
    return load_settings(home()).model_dump()


# -- changes (API key) -----------------------------------------------------------------------

@app.post("/api/settings", dependencies=[Keyed], include_in_schema=False)
async def save_settings(body: Settings) -> dict:
    write_json_atomic(settings_path(home()), body.model_dump())
    return await service().call_live("settings_changed")


@app.post("/api/jobs/fetch", dependencies=[Keyed], include_in_schema=False)
def start_fetch(body: FetchJob) -> dict:
    return jobs().start(body.command())


@app.post("/api/jobs/import", dependencies=[Keyed], include_in_schema=False)
def start_import(body: ImportJob) -> dict:
    identifier, folder = jobs().new_folder("import")
    upload = folder / f"{body.symbol.upper()}.csv"
    upload.write_text(body.content)
    return jobs().start(body.command(str(upload)), identifier)


@app.post("/api/jobs/train", dependencies=[Keyed], include_in_schema=False)
def start_train(body: TrainJob) -> dict:
    if body.profile not in profiles():
        raise InputError("profile", f"{body.profile!r} is not one of {', '.join(profiles())}")
    return jobs().start(body.command())


@app.post("/api/jobs/backtest", dependencies=[Keyed], include_in_schema=False)
def start_backtest(body: BacktestJob) -> dict:
    if (body.variant is None) == (body.signals is None):
        raise InputError("variant", "give either a variant or a signal file (signals)")
    signals = str(inside_home(home(), body.signals, "signals")) if body.signals else None
    identifier, _ = jobs().new_folder("backtest")
    out = jobs().backtest_out(identifier)
    return jobs().start(body.command(str(out), signals), identifier)


@app.post("/api/jobs/export", dependencies=[Keyed], include_in_schema=False)
def start_export(body: ExportJob) -> dict:
    return jobs().start(body.command())


@app.post("/api/jobs/{identifier}/cancel", dependencies=[Keyed], include_in_schema=False)
def cancel_job(identifier: str) -> dict:
    return jobs().cancel(identifier)


@app.post("/api/models/reload", dependencies=[Keyed], include_in_schema=False)
def reload_models() -> dict:
    return {"versions": service().forecaster.registry.reload()}


# -- settings --------------------------------------------------------------------------------

def load_settings(where: Home) -> Settings:
    path = settings_path(where)
    if not path.exists():
        return Settings()
    return Settings.model_validate_json(path.read_text())


def apply_settings(book: PaperPortfolio, chosen: Settings) -> None:
    stop = chosen.limits.daily_loss_stop or None
    book.configure(cost_per_unit=chosen.cost_per_unit, max_position=chosen.limits.max_position,
                   max_gross=chosen.limits.max_gross, daily_loss_stop=stop)


def open_portfolio(where: Home, folder: Any) -> PaperPortfolio:
    """The service's paper portfolio, with the Settings page's cost and limit assumptions."""
    book = PaperPortfolio(folder)
    apply_settings(book, load_settings(where))
    return book


# -- the built app ---------------------------------------------------------------------------

@app.get("/{path:path}", include_in_schema=False)
def static(path: str) -> Any:
    """A file of the build, else its index.html (the app routes in the browser)."""
    if path.startswith("api/"):
        return JSONResponse({"error": f"no API endpoint /ui/{path}"}, status_code=404)
    if not (DIST_DIR / "index.html").exists():
        return HTMLResponse(MISSING_BUILD)
    if path:
        wanted = (DIST_DIR / path).resolve()
        if wanted.is_relative_to(DIST_DIR.resolve()) and wanted.is_file():
            return FileResponse(wanted)
    return FileResponse(DIST_DIR / "index.html", headers={"cache-control": "no-cache"})
