"""Bars in, a forecast and a signal out: the one path that predict, ingest and batch signals share.

Bars become engine features (`features.engine`), the model's own columns are picked with
`model_matrix` (variants may use different feature subsets), the last `WINDOW` rows go through
the variant's predictor (or every variant's, for "combined"), and the shared signal rule turns
the forecast into a target position.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from features.bars import check_bars
from features.engine import (
    BAR_VALUES,
    FEATURE_SPECS,
    MAX_WARMUP,
    StreamingEngine,
    compute_features,
    feature_names,
)
from features.errors import ArtifactError
from features.sessions import DEFAULT_CALENDAR, bar_end, bar_ends
from features.signal_rule import SignalRuleConfig, SignalState, combine_horizons, step
from features.windows import WINDOW
from serving.artifacts import ModelArtifact
from serving.ensemble import combine, validation_weights
from serving.errors import InputError
from serving.predictor import OnnxPredictor, Prediction
from serving.registry import ModelRegistry

# The name that asks for every loaded variant, combined by serving/ensemble.py. Not "ensemble":
# that is a model variant of its own (direction, price and risk nets), served like the others.
COMBINED = "combined"
MIN_BARS = WINDOW + MAX_WARMUP  # bars a prediction from raw bars needs
BATCH = 256  # windows per onnxruntime call in batch work
ENGINE_COLUMNS = feature_names()  # the streaming engine's row layout
ENGINE_INDEX = pd.Index(ENGINE_COLUMNS)
PREDICTION_FIELDS = ("probabilities", "returns", "volatility", "attention")


@dataclass(frozen=True)
class ServingConfig:
    intra_op_threads: int | None = None  # onnxruntime threads per run; None: threads.json, else 1
    live_variant: str = "hybrid"  # variant (or "combined") answering ingest and signals
    snapshot_every: int = 200  # ingested bars between two snapshots of the live state
    fsync: bool = True  # fsync the ingest journal on every bar (a crash loses nothing)
    state_dir: Path | None = None  # live state folder; None: <home>/data/state/live
    combined_weights: Mapping[str, float] | None = None  # None: from validation metrics
    signal_rule: SignalRuleConfig = field(default_factory=SignalRuleConfig)  # shared rule


@dataclass(frozen=True)
class ForecastResult:
    symbol: str  # the symbol forecast
    timestamp: pd.Timestamp  # time of the last bar used
    variant: str  # the variant asked for (or "combined")
    versions: dict[str, str]  # version of each variant that answered
    horizons: tuple[int, ...]  # bars ahead, one per forecast row
    prediction: Prediction  # batch of one
    signal: SignalState  # the signal rule's state after this forecast


class Forecaster:
    """Feature windows -> predictions with any loaded variant or all of them combined."""

    def __init__(self, registry: ModelRegistry, config: ServingConfig) -> None:
        self.registry = registry
        self.config = config

    def variants(
        self, variant: str, models: Mapping[str, ModelArtifact] | None = None
    ) -> list[str]:
        """The variants that answer for ``variant``: all loaded ones for "combined"."""
        models = self.registry.models if models is None else models
        if variant == COMBINED:
            return list(models)
        if variant not in models:
            self.registry.get(variant)  # raises the unknown-variant error
        return [variant]

    def predict_frame(
        self, frame: pd.DataFrame, variant: str, position: Sequence[float] | None = None
    ) -> tuple[Prediction, dict[str, str], tuple[int, ...]]:
        """Predict from the last WINDOW rows of a feature frame (all engine columns)."""
        return self.predict_windows(frame, variant, np.array([len(frame) - 1]), position)

    def predict_rows(
        self, rows: np.ndarray, variant: str
    ) -> tuple[Prediction, dict[str, str], tuple[int, ...]]:
        """Predict from the streaming engine's last WINDOW rows (all features, engine order)."""
        return self.predict_windows(rows, variant, np.array([len(rows) - 1]))

    def predict_windows(
        self,
        rows: np.ndarray | pd.DataFrame,
        variant: str,
        ends: np.ndarray,
        position: Sequence[float] | None = None,
    ) -> tuple[Prediction, dict[str, str], tuple[int, ...]]:
        """Predict the windows of ``rows`` (engine rows or a feature frame) that end at the rows
        ``ends`` (batched)."""
        rows = engine_rows(rows)
        models = self.registry.models  # one consistent set for the whole request
        chosen = self.variants(variant, models)
        position_array = None if position is None else np.asarray([position], dtype=np.float32)
        predictions = {}
        for name in chosen:
            artifact = models[name]
            windows = feature_windows(rows, artifact.feature_names, ends)
            predictor = OnnxPredictor(artifact)
            parts = [
                predictor.predict(windows[i : i + BATCH], position_array)
                for i in range(0, len(windows), BATCH)
            ]
            predictions[name] = concatenate(parts)
        versions = {name: models[name].version for name in chosen}
        horizons = tuple(models[chosen[0]].metadata.get("horizons", (1, 4, 24)))
        if variant != COMBINED:
            return predictions[chosen[0]], versions, horizons
        weights = self.config.combined_weights or validation_weights(models)
        return combine(predictions, weights), versions, horizons

    def warm_up(self) -> None:
        """One batch and one streamed forecast per variant on a synthetic series, so that the
        kernels' JIT compilation and onnxruntime's first runs happen before the first request."""
        steps = np.random.default_rng(0).normal(0, 0.01, MIN_BARS)
        close = 100 * np.exp(np.cumsum(steps))
        bars = pd.DataFrame({
            "timestamp": pd.date_range("2020-01-01", periods=MIN_BARS, freq="D", tz="UTC"),
            "open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
            "volume": np.full(MIN_BARS, 1e6),
        })
        engine = StreamingEngine()
        for bar in bars.to_dict("records"):
            engine.update("WARMUP", bar)
        window = engine.window("WARMUP", WINDOW)
        for variant in self.registry.models:
            self.forecast_bars("WARMUP", bars, variant=variant)
            self.predict_rows(window, variant)

    def signal(
        self, prediction: Prediction, horizons: Sequence[int], state: SignalState
    ) -> SignalState:
        """The shared signal rule's next state after this (single-row) prediction."""
        rule = self.config.signal_rule
        probs, per_bar_return, per_bar_vol = combine_horizons(
            prediction.probabilities, prediction.returns, prediction.volatility, horizons, rule
        )
        return step(state, probs[0], per_bar_return[0], float(per_bar_vol[0]), rule)

    def forecast_bars(
        self,
        symbol: str,
        bars: pd.DataFrame,
        context: Mapping[str, pd.DataFrame] | None = None,
        variant: str = "hybrid",
        position: Sequence[float] | None = None,
    ) -> ForecastResult:
        """Predict from a validated bar frame (at least MIN_BARS); the signal starts from flat."""
        if len(bars) < MIN_BARS:
            raise InputError(
                "bars", f"{len(bars)} bars given; a prediction needs at least {MIN_BARS} "
                f"(window {WINDOW} + feature warm-up {MAX_WARMUP})"
            )
        frame = compute_features(bars, dict(context) if context else None)
        prediction, versions, horizons = self.predict_frame(frame, variant, position)
        return ForecastResult(
            symbol=symbol,
            timestamp=bars["timestamp"].iloc[-1],
            variant=variant,
            versions=versions,
            horizons=horizons,
            prediction=prediction,
            signal=self.signal(prediction, horizons, SignalState()),
        )


def engine_rows(rows: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Feature rows as one float64 array in the engine's column order."""
    if not isinstance(rows, pd.DataFrame):
        return rows
    if rows.columns[1:].equals(ENGINE_INDEX):  # compute_features' layout: a slice, no lookups
        return rows.iloc[:, 1:].to_numpy(dtype=np.float64)
    return rows[ENGINE_COLUMNS].to_numpy(dtype=np.float64)


@functools.cache
def column_picker(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Where a model's ``names`` sit among the engine's columns, and their fill values (NaN:
    none). `model_matrix`'s rule on plain arrays: it costs one pandas lookup per column, which
    is most of a live request's time; a test checks that both agree."""
    unknown = [name for name in names if name not in ENGINE_COLUMNS]
    if unknown:
        raise ArtifactError(f"model features the engine does not compute: {', '.join(unknown)}")
    index = np.array([ENGINE_COLUMNS.index(name) for name in names])
    fills = [FEATURE_SPECS[name].fill_missing for name in names]
    return index, np.array([np.nan if f is None else f for f in fills], dtype=np.float32)


def pick_columns(rows: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(T, F) float32: the model's columns of engine rows, context NaN replaced by its fill."""
    index, fills = column_picker(tuple(names))
    matrix = rows[:, index].astype(np.float32)
    return np.where(np.isnan(matrix) & ~np.isnan(fills), fills, matrix)


def feature_windows(rows: np.ndarray, names: Sequence[str], ends: np.ndarray) -> np.ndarray:
    """(len(ends), WINDOW, F) float32 windows of the model's columns, refusing warm-up NaN."""
    matrix = pick_columns(rows, names)
    if len(matrix) < WINDOW or ends.min() < WINDOW - 1:
        raise InputError("bars", f"a window needs {WINDOW} rows; send at least {MIN_BARS} bars")
    windows = sliding_window_view(matrix, WINDOW, axis=0)[ends - WINDOW + 1].transpose(0, 2, 1)
    warm = np.isnan(windows).any(axis=(0, 1))
    if warm.any():
        cold = [name for name, bad in zip(names, warm, strict=True) if bad]
        raise InputError(
            "bars", f"not enough history: features {cold[:3]} are still warming up in the "
            f"last {WINDOW} bars; send at least {MIN_BARS} bars"
        )
    return windows


def concatenate(parts: Sequence[Prediction]) -> Prediction:
    if len(parts) == 1:
        return parts[0]
    return Prediction(*(np.concatenate([getattr(p, f) for p in parts]) for f in PREDICTION_FIELDS))


def bars_frame(bars: Sequence[Mapping], field_name: str = "bars", *, timeframe: str = "1d",
               calendar: str = DEFAULT_CALENDAR) -> pd.DataFrame:
    """Request bars (dicts with timestamp, open, high, low, close, volume, optional known_at)
    as a bar frame with ``known_at`` (stated, else from ``timeframe`` and ``calendar``).

    Built column by column and checked with the array form of the one bar validation
    (`features.bars`): `validate_bars` does the same checks through pandas and cost most of a
    predict request (15 of 35 ms, measured here). Unsorted bars are refused, not re-sorted.
    """
    stamps = pd.to_datetime([bar["timestamp"] for bar in bars], utc=True).as_unit("ns")
    known = bar_ends(stamps.asi8, timeframe, calendar)
    for row, bar in enumerate(bars):
        if bar.get("known_at") is not None:
            known[row] = pd.Timestamp(bar["known_at"]).as_unit("ns").value
    values = np.array([[bar[name] for name in BAR_VALUES] for bar in bars], dtype=np.float64)
    check_bars(stamps.asi8, values, known, lambda row: f"{field_name}[{row}]")
    frame = pd.DataFrame(values, columns=list(BAR_VALUES))
    frame.insert(0, "timestamp", stamps)
    frame["known_at"] = pd.to_datetime(known, utc=True).as_unit("ns")
    return frame


def context_frames(context: Mapping[str, Sequence] | None) -> dict[str, pd.DataFrame] | None:
    """Request context series (name -> points with timestamp, close, optional known_at,
    timeframe and calendar) as frames with ``known_at``."""
    if not context:
        return None
    return {
        name: pd.DataFrame({
            "timestamp": pd.to_datetime([p.timestamp for p in points], utc=True).as_unit("ns"),
            "close": [p.close for p in points],
            "known_at": pd.to_datetime([point_known_at(vars(p)) for p in points], utc=True),
        })
        for name, points in context.items()
    }


def point_known_at(point: Mapping, timeframe: str = "1d",
                   calendar: str = DEFAULT_CALENDAR) -> pd.Timestamp:
    """When a request's bar or context point became known: its ``known_at``, else its end from
    the point's own ``timeframe``/``calendar`` (context points carry them) or the given ones."""
    if point.get("known_at") is not None:
        return pd.Timestamp(point["known_at"]).tz_convert("UTC")
    return bar_end(point["timestamp"], point.get("timeframe", timeframe),
                   point.get("calendar", calendar))


def config_from_env() -> ServingConfig:
    """The service's configuration: defaults, overridden by TRADECAST_* environment variables."""
    defaults = ServingConfig()
    return ServingConfig(
        intra_op_threads=int(os.environ["TRADECAST_THREADS"]) if "TRADECAST_THREADS" in os.environ
        else defaults.intra_op_threads,
        live_variant=os.environ.get("TRADECAST_LIVE_VARIANT", defaults.live_variant),
        snapshot_every=int(os.environ.get("TRADECAST_SNAPSHOT_EVERY", defaults.snapshot_every)),
        fsync=os.environ.get("TRADECAST_FSYNC", "1") != "0",
        state_dir=Path(os.environ["TRADECAST_STATE_DIR"]) if "TRADECAST_STATE_DIR" in os.environ
        else None,
    )


def forecast_dict(result: ForecastResult, return_attention: bool = False) -> dict:
    """A `ForecastResult` as the JSON body of `serving.schemas.Forecast`."""
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


def with_attention(forecast: dict | None, return_attention: bool) -> dict | None:
    """A stored forecast body as answered: attention only when asked for."""
    if forecast is None or return_attention:
        return forecast
    return {**forecast, "attention": None}
