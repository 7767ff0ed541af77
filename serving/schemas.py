"""The HTTP API's request and response bodies.

Strict on purpose: unknown fields are refused (a typo must not be ignored), numbers must be JSON
numbers (no "1.5" strings), NaN and inf are refused, timestamps must carry a time zone.
Every field has a description; they make up the OpenAPI page.

Cheap on purpose: a bar is a `TypedDict` with plain types, so pydantic-core checks its shape and
types in Rust and builds no model object per bar; the value rules (prices > 0, volume >= 0,
time order and range) run once over numpy arrays in `serving.bodies`, answering 422 with the
bar's index and field. Responses are written straight to JSON (`serving.http.json_answer`):
the models below document them, nothing validates them a second time.
"""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, with_config
from typing_extensions import TypedDict

from marketdata.bars import check_timeframe
from marketdata.sessions import DEFAULT_CALENDAR, check_calendar

MAX_BARS = 5000  # the longest window of bars one predict request may carry
MAX_SYMBOLS = 1000  # symbols per `signals`, `ingest_many` or `predict_many` request
STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

Symbol = Annotated[
    str,
    Field(
        min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9.^=_/-]*$",
        description="Ticker, e.g. AAPL, ^GSPC or BTC/USDT.",
    ),
]
Price = Annotated[float, Field(description="Price, > 0.")]
Time = Annotated[AwareDatetime, Field(description="ISO 8601 with a zone, 1900 to 2200.")]
KnownAt = Annotated[AwareDatetime, Field(
    description="When the bar became known (its end), ISO 8601 with a zone; default: from its "
    "timestamp, timeframe and calendar (daily: the session's close)."
)]
Timeframe = Annotated[str, AfterValidator(check_timeframe), Field(
    description="Bar length: 1min, 5min, 15min, 1h or 1d; with the calendar it dates each "
    "bar's end (known_at) when the bar does not state it."
)]
Calendar = Annotated[str, AfterValidator(check_calendar), Field(
    description="Trading calendar of the bars: an exchange_calendars name (XNYS) or 24/7 "
    "(crypto: daily bars end at 24:00 UTC)."
)]


@with_config(STRICT)
class Bar(TypedDict):
    timestamp: Annotated[AwareDatetime, Field(
        description="Bar open time, ISO 8601 with a zone (daily bars: the session date 00:00Z)."
    )]
    open: Price
    high: Price
    low: Price
    close: Annotated[float, Field(description="Close, split-adjusted; the features use it.")]
    volume: Annotated[float, Field(description="Traded volume, >= 0 (0 for indices).")]
    known_at: NotRequired[KnownAt]


@with_config(STRICT)
class ContextPoint(TypedDict):
    timestamp: Annotated[AwareDatetime, Field(
        description="Open time of this context bar (daily: the session date 00:00Z)."
    )]
    close: Annotated[float, Field(description="Close of the context series (e.g. SPY, VIX).")]
    known_at: NotRequired[KnownAt]
    timeframe: NotRequired[Timeframe]  # default 1d
    calendar: NotRequired[Calendar]  # default XNYS


class Strict(BaseModel):
    model_config = STRICT


ContextBars = Annotated[
    dict[str, list[ContextPoint]],
    Field(description="Market context series by name (SPY, QQQ, VIX, a sector ETF), oldest first."),
]
ContextNow = Annotated[
    dict[str, ContextPoint] | None,
    Field(default=None, description="Context closes known by these bars' ends, by series name."),
]
BarTimeframe = Annotated[Timeframe, Field(default="1d")]
BarCalendar = Annotated[Calendar, Field(default=DEFAULT_CALENDAR)]
Attention = Annotated[bool, Field(default=False, description="Also return attention weights.")]
Variant = Annotated[str, Field(
    default="hybrid", max_length=32,
    description="A loaded variant (full, simplex, hybrid, ensemble) or 'combined': "
    "every loaded variant, weighted by validation skill.",
)]


class SymbolBars(Strict):
    symbol: Symbol
    bars: list[Bar] = Field(
        min_length=1, max_length=MAX_BARS,
        description="Recent bars, oldest first: the window (60) plus the features' warm-up.",
    )
    context: ContextBars | None = None
    timeframe: BarTimeframe
    calendar: BarCalendar
    position: list[float] | None = Field(
        default=None, description="Position state for the `full` variant (POSITION_DIM numbers)."
    )


class PredictRequest(SymbolBars):
    variant: Variant
    return_attention: Attention


class PredictManyRequest(Strict):
    requests: list[SymbolBars] = Field(
        min_length=1, max_length=MAX_SYMBOLS,
        description="One entry per symbol; the model runs once, batched across them.",
    )
    variant: Variant
    return_attention: Attention


class IngestRequest(Strict):
    symbol: Symbol
    bar: Bar = Field(description="The symbol's newest bar; the same bar again changes nothing.")
    context: ContextNow
    timeframe: BarTimeframe
    calendar: BarCalendar
    return_attention: Attention


class IngestManyRequest(Strict):
    bars: dict[Symbol, Bar] = Field(
        min_length=1, max_length=MAX_SYMBOLS,
        description="Each symbol's newest bar (a whole universe at one tick): applied together, "
        "journaled with one fsync, forecast in one batched model run.",
    )
    context: ContextNow
    timeframe: BarTimeframe
    calendar: BarCalendar
    return_attention: Attention


class SignalsRequest(Strict):
    symbols: list[Symbol] = Field(
        min_length=1, max_length=MAX_SYMBOLS, description="Symbols with live state (ingested)."
    )
    return_attention: Attention


class HorizonForecast(BaseModel):
    horizon: int = Field(description="Bars ahead.")
    p_down: float = Field(description="Probability of a down move over the horizon.")
    p_flat: float = Field(description="Probability of a flat move.")
    p_up: float = Field(description="Probability of an up move.")
    expected_return: float = Field(description="Expected simple return over the horizon.")
    volatility: float = Field(description="Expected realised volatility over the horizon.")


class Signal(BaseModel):
    position: float = Field(description="Target position in [-1, 1] from the signal rule.")
    bars_held: int = Field(description="Bars since the target position last changed.")


class Forecast(BaseModel):
    symbol: str = Field(description="The symbol.")
    timestamp: AwareDatetime = Field(description="Time of the last bar the forecast uses.")
    variant: str = Field(description="Variant that answered, or 'combined'.")
    versions: dict[str, str] = Field(description="Model version of each variant used.")
    forecasts: list[HorizonForecast] = Field(description="One entry per horizon.")
    signal: Signal = Field(
        description="Signal rule output: from flat for predict, the live state for ingest."
    )
    attention: list[float] | None = Field(
        default=None, description="Weight of each bar of the window (when asked)."
    )


class PredictManyResponse(BaseModel):
    forecasts: list[Forecast] = Field(description="One forecast per request entry, in order.")


class IngestResponse(BaseModel):
    symbol: str = Field(description="The symbol.")
    timestamp: AwareDatetime = Field(description="Time of the symbol's latest bar.")
    added: bool = Field(description="False when this bar was already ingested (no change).")
    bars: int = Field(description="Bars ingested for the symbol so far.")
    bars_needed: int = Field(description="Bars still needed before the first forecast (0: ready).")
    forecast: Forecast | None = Field(description="The forecast and signal; null while warming up.")


class IngestManyResponse(BaseModel):
    results: dict[str, IngestResponse] = Field(description="The ingest answer of each symbol.")


class SignalsResponse(BaseModel):
    signals: dict[str, Forecast | None] = Field(
        description="Latest forecast by symbol; null while a symbol is warming up."
    )


class ModelInfo(BaseModel):
    variant: str = Field(description="Variant name.")
    version: str = Field(description="Version folder name.")
    feature_names: list[str] = Field(description="Input features, in order.")
    ensemble_weight: float = Field(description="Weight of this variant in 'combined'.")
    metadata: dict = Field(description="metadata.json as exported.")


class ModelsResponse(BaseModel):
    models: list[ModelInfo] = Field(description="Every loaded variant.")
    live_variant: str = Field(description="Variant that answers ingest and signals.")


class ReloadResponse(BaseModel):
    versions: dict[str, str] = Field(description="Variant -> version now served.")
