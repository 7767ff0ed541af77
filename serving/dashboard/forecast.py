"""The Models page: loaded variants, and one forecast with its attention for a stored bar."""

from __future__ import annotations

from contract.errors import UnknownSymbolError
from contract.home import Home
from features.context import MARKET_CONTEXT
from marketdata.store import BarStore
from serving.dashboard.homefiles import utc_time
from serving.dashboard.paths import checked_name
from serving.dashboard.portfolio import unix_seconds
from serving.errors import InputError
from serving.forecasting import MIN_BARS, Forecaster
from serving.registry import ModelRegistry
from serving.responses import forecast_body

METADATA_SHOWN = ("parameters", "weights", "untrained", "training_span", "metrics", "created_at",
                  "opset", "checkpoint", "sha256")


def model_rows(registry: ModelRegistry) -> list[dict]:
    return [
        {"variant": name, "version": artifact.version, "features": len(artifact.feature_names),
         **{key: artifact.metadata.get(key) for key in METADATA_SHOWN}}
        for name, artifact in sorted(registry.models.items())
    ]


def forecast_at(home: Home, forecaster: Forecaster, symbol: str, variant: str,
                at: str | None) -> dict:
    """``variant``'s forecast from the stored daily bars of ``symbol`` ending at ``at`` (default:
    the last bar), with the attention over the window and the window's bars for the heat map."""
    store = BarStore(home.bars_dir)
    bars = store.read(checked_name(symbol, "symbol").upper(), "1d")
    if at:
        bars = bars[bars["timestamp"] <= utc_time(at, "at")]
    bars = bars.tail(MIN_BARS * 3).reset_index(drop=True)  # enough for every warm-up
    if len(bars) < MIN_BARS:
        raise InputError("at", f"only {len(bars)} bars of {symbol} up to it; need {MIN_BARS}")
    context = {}
    for name in MARKET_CONTEXT:
        try:
            frame = store.read(name, "1d")
        except UnknownSymbolError:
            continue
        context[name] = frame[frame["timestamp"] <= bars["timestamp"].iloc[-1]]
    result = forecaster.forecast_bars(symbol.upper(), bars, context or None, variant)
    body = forecast_body(result, True)
    window = bars.tail(len(body["attention"]))
    body["window"] = [
        {"time": int(t), "close": float(c)}
        for t, c in zip(unix_seconds(window["timestamp"]), window["close"], strict=True)
    ]
    return body
