"""Responses: the domain results (`ForecastResult`, `IngestResult`) written as the API's JSON
bodies (`serving.schemas` documents them). The only module that knows the answers' shape: the
forecaster and the live state hold domain objects, and every endpoint builds its body here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from serving.ensemble import validation_weights
from serving.forecasting import Forecaster, ForecastResult, IngestResult


def forecast_body(result: ForecastResult, return_attention: bool = False) -> dict:
    """A forecast as the body of `serving.schemas.Forecast`."""
    prediction = result.prediction
    rows = [
        {
            "horizon": int(horizon),
            "p_down": float(prediction.probabilities[0, index, 0]),
            "p_flat": float(prediction.probabilities[0, index, 1]),
            "p_up": float(prediction.probabilities[0, index, 2]),
            "expected_return": float(prediction.returns[0, index]),
            "volatility": float(prediction.volatility[0, index]),
        }
        for index, horizon in enumerate(result.horizons)
    ]
    attention = prediction.attention[0].astype(float).tolist() if return_attention else None
    return {
        "symbol": result.symbol,
        "timestamp": result.timestamp.isoformat(),
        "variant": result.variant,
        "versions": result.versions,
        "forecasts": rows,
        "signal": {"position": result.signal.position, "bars_held": result.signal.bars_held},
        "attention": attention,
    }


def maybe_forecast_body(result: ForecastResult | None, return_attention: bool) -> dict | None:
    """`forecast_body`, or None for a symbol still warming up."""
    return None if result is None else forecast_body(result, return_attention)


def forecasts_body(results: Iterable[ForecastResult], return_attention: bool) -> dict:
    """`/predict_many`'s answer."""
    return {"forecasts": [forecast_body(result, return_attention) for result in results]}


def ingest_body(result: IngestResult, return_attention: bool) -> dict:
    """One symbol's answer to an ingest (`serving.schemas.IngestResponse`)."""
    return {
        "symbol": result.symbol, "timestamp": result.timestamp.isoformat(), "added": result.added,
        "bars": result.bars, "bars_needed": result.bars_needed,
        "forecast": maybe_forecast_body(result.forecast, return_attention),
    }


def ingests_body(results: Iterable[IngestResult], return_attention: bool) -> dict:
    """`/ingest_many`'s answer (and the live-state service's, which `/ingest` picks from)."""
    return {"results": {r.symbol: ingest_body(r, return_attention) for r in results}}


def signals_body(latest: Mapping[str, ForecastResult | None], return_attention: bool) -> dict:
    """`/signals`' answer: each symbol's latest forecast."""
    return {"signals": {symbol: maybe_forecast_body(result, return_attention)
                        for symbol, result in latest.items()}}


def models_body(forecaster: Forecaster) -> dict:
    """`/models`' answer: the loaded variants with their metadata."""
    models = forecaster.registry.current()
    weights = validation_weights(models)
    return {
        "models": [{"variant": name, "version": a.version, "feature_names": a.feature_names,
                    "ensemble_weight": weights[name], "metadata": a.metadata}
                   for name, a in models.items()],
        "live_variant": forecaster.config.live_variant,
    }
