"""Forecasting: bars in, a forecast and a signal out, the one path that predict, ingest and batch
signals share.

Bars become engine features (`features.engine`; checked request bars as arrays, `BarSeries`, with
no frame built), the model's own columns are picked from the engine's rows (variants may use
different feature subsets), the windows go through the variant's predictor (or every variant's,
for "combined"), and the shared signal rule turns the forecast into a target position. The
results are domain objects (`ForecastResult`); `serving.responses` writes them as JSON.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

# COMBINED asks for every loaded variant, mixed by serving/ensemble.py (never the ensemble variant)
from contract.model import COMBINED, HORIZONS
from features.engine import (
    MAX_WARMUP,
    StreamingEngine,
    compute_features,
    feature_rows,
)
from features.windows import WINDOW
from policy.signal_rule import SignalState, combine_horizons, step
from serving.artifacts import ModelArtifact
from serving.config import ServingConfig
from serving.ensemble import combine, validation_weights
from serving.errors import InputError
from serving.predictor import (
    OnnxPredictor,
    Prediction,
    check_position_width,
    require_finite,
)
from serving.registry import ModelRegistry
from serving.windows import MIN_BARS, engine_rows, feature_windows

BATCH = 256  # windows per onnxruntime call in batch work
LANE_WINDOWS = 4  # fewest windows worth a run of their own on another core
PREDICTION_FIELDS = ("probabilities", "returns", "volatility", "attention")


@dataclass(frozen=True)
class BarSeries:
    """One symbol's checked bars as arrays, oldest first (what `serving.bodies` makes of a
    request): no frame is built on the request path."""

    stamps: np.ndarray  # (n,) int64 ns open times, strictly increasing
    values: np.ndarray  # (n, 5) float64 open, high, low, close, volume
    known_at: np.ndarray  # (n,) int64 ns times each bar became known (its end)

    def __len__(self) -> int:
        return len(self.stamps)

    @property
    def last_time(self) -> pd.Timestamp:
        return pd.Timestamp(int(self.stamps[-1]), tz="UTC")


@dataclass(frozen=True)
class ForecastResult:
    symbol: str  # the symbol forecast
    timestamp: pd.Timestamp  # time of the last bar used
    variant: str  # the variant asked for (or "combined")
    versions: dict[str, str]  # version of each variant that answered
    horizons: tuple[int, ...]  # bars ahead, one per forecast row
    prediction: Prediction  # batch of one
    signal: SignalState  # the signal rule's state after this forecast


@dataclass(frozen=True)
class IngestResult:
    """What the live state answers for one ingested bar (serving.live.LiveBook)."""

    symbol: str  # the symbol
    timestamp: pd.Timestamp  # its latest bar's time
    added: bool  # False: the same bar was already ingested
    bars: int  # bars ingested for the symbol so far
    forecast: ForecastResult | None  # the latest forecast; None while warming up

    @property
    def bars_needed(self) -> int:
        return max(0, MIN_BARS - self.bars)


class Forecaster:
    """Feature windows -> predictions with any loaded variant or all of them combined."""

    def __init__(self, registry: ModelRegistry, config: ServingConfig) -> None:
        self.registry = registry
        self.config = config
        lanes = config.model_lanes or os.cpu_count() or 1
        # One intra-op thread per session serves a lone window best (see threads.json), but it
        # leaves the other cores idle in a batch: the batch's runs go to them concurrently
        # (onnxruntime releases the GIL; a session may run in several threads at once).
        self.lanes = ThreadPoolExecutor(lanes, thread_name_prefix="model") if lanes > 1 else None
        self.lane_count = lanes

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
        return self.predict_many([rows], variant)

    def predict_windows(
        self,
        rows: np.ndarray | pd.DataFrame,
        variant: str,
        ends: np.ndarray,
        position: Sequence[float] | None = None,
    ) -> tuple[Prediction, dict[str, str], tuple[int, ...]]:
        """Predict the windows of ``rows`` (engine rows or a feature frame) that end at the rows
        ``ends`` (batched); ``position`` applies to every window."""
        positions = None if position is None else np.asarray([position], dtype=np.float32)
        return self.predict_many([rows], variant, [ends], positions)

    def predict_many(
        self,
        rows: Sequence[np.ndarray | pd.DataFrame],
        variant: str,
        ends: Sequence[np.ndarray] | None = None,
        positions: np.ndarray | None = None,
        fields: Sequence[str] | None = None,
    ) -> tuple[Prediction, dict[str, str], tuple[int, ...]]:
        """The batched path every caller shares (predict, bulk predict, live ingest, batch
        signals): the windows of several series' feature ``rows`` (engine rows or feature
        frames), ending at ``ends[i]`` (default: each series' last row), go through each
        variant in runs of up to BATCH windows, whatever series they come from.

        The prediction's rows are series 0's windows, then series 1's, ...; ``positions``
        (windows, P) or (1, P) is the `full` variant's position input (None: flat);
        ``fields[i]`` names series i in errors (default "bars").
        """
        models, windows = self.model_windows(rows, variant, ends, fields)
        return self.run_windows(models, variant, windows, positions)

    def model_windows(
        self,
        rows: Sequence[np.ndarray | pd.DataFrame],
        variant: str,
        ends: Sequence[np.ndarray] | None = None,
        fields: Sequence[str] | None = None,
    ) -> tuple[Mapping[str, ModelArtifact], dict[str, np.ndarray]]:
        """The current models and, for each variant answering ``variant``, the checked windows
        of its own columns (`predict_many`'s first half: every input error is raised here)."""
        series = [engine_rows(r) for r in rows]
        ends = ends if ends is not None else [np.array([len(r) - 1]) for r in series]
        fields = fields or ["bars"] * len(series)
        models = self.registry.current()  # one consistent set for the whole call
        windows = {
            name: np.concatenate([
                feature_windows(r, models[name].feature_names, e, field)
                for r, e, field in zip(series, ends, fields, strict=True)
            ])
            for name in self.variants(variant, models)
        }
        return models, windows

    def run_windows(
        self,
        models: Mapping[str, ModelArtifact],
        variant: str,
        windows: Mapping[str, np.ndarray],
        positions: np.ndarray | None = None,
    ) -> tuple[Prediction, dict[str, str], tuple[int, ...]]:
        """`predict_many`'s second half: every variant's windows through its model, mixed for
        "combined"."""
        chosen = list(windows)
        predictions = {name: self.run_batched(OnnxPredictor(models[name]), windows[name],
                                              positions)
                       for name in chosen}
        versions = {name: models[name].version for name in chosen}
        horizons = tuple(models[chosen[0]].metadata.get("horizons", HORIZONS))
        if variant != COMBINED:
            return predictions[chosen[0]], versions, horizons
        weights = self.config.combined_weights or validation_weights(models)
        return combine(predictions, weights), versions, horizons

    def run_batched(self, predictor: OnnxPredictor, windows: np.ndarray,
                    positions: np.ndarray | None) -> Prediction:
        """The windows in runs of up to BATCH, spread over the lanes (cores) when there are
        enough of them (LANE_WINDOWS per lane at least); rows in order."""
        lanes = min(self.lane_count, len(windows) // LANE_WINDOWS) if self.lanes else 1
        size = max(1, min(BATCH, -(-len(windows) // max(lanes, 1))))
        def run(start: int) -> Prediction:
            return predictor.predict(windows[start : start + size],
                                     batch_slice(positions, start, size))

        starts = range(0, len(windows), size)
        return concatenate(list(map(run, starts) if lanes <= 1 else self.lanes.map(run, starts)))

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
        return self.forecast_many([SeriesInput(symbol, bars, context, position)], variant)[0]

    def forecast_many(
        self, inputs: Sequence[SeriesInput], variant: str = "hybrid", fields: Sequence[str] = ()
    ) -> list[ForecastResult]:
        """`forecast_bars` for many symbols: features per symbol, then one batched model run
        (`predict_many`); ``fields[i]`` names input i in errors (default "bars")."""
        return self.answer(self.prepare(inputs, variant, fields))

    def prepare(
        self, inputs: Sequence[SeriesInput], variant: str = "hybrid", fields: Sequence[str] = ()
    ) -> PreparedForecasts:
        """`forecast_many`'s first half, where every input error is raised: features and
        checked windows, ready for one model run (`answer`), alone or merged with others."""
        fields = list(fields) or ["bars"] * len(inputs)
        frames = []
        for item, where in zip(inputs, fields, strict=True):
            if len(item.bars) < MIN_BARS:
                raise InputError(
                    where, f"{len(item.bars)} bars given; a prediction needs at least "
                    f"{MIN_BARS} (window {WINDOW} + feature warm-up {MAX_WARMUP})"
                )
            frames.append(series_features(item))
        models, windows = self.model_windows(frames, variant, fields=fields)
        for batch in windows.values():  # here, not in the model run: one request's bad window
            require_finite(batch, "features")  # must not fail the others merged with it
        positions = positions_array(inputs)
        width = max(models[name].position_dim for name in windows)
        if positions is not None and width:
            check_position_width(positions.shape[1], width)
        return PreparedForecasts(tuple(inputs), variant, models, windows, positions)

    def answer(self, prepared: PreparedForecasts) -> list[ForecastResult]:
        """`forecast_many`'s second half: one model run over the prepared windows, then each
        input's forecast and its signal from flat."""
        prediction, versions, horizons = self.run_windows(
            prepared.models, prepared.variant, prepared.windows, prepared.positions
        )
        return [
            ForecastResult(
                symbol=item.symbol, timestamp=item.last_time, variant=prepared.variant,
                versions=versions, horizons=horizons, prediction=prediction.row(index),
                signal=self.signal(prediction.row(index), horizons, SignalState()),
            )
            for index, item in enumerate(prepared.inputs)
        ]


@dataclass(frozen=True)
class SeriesInput:
    symbol: str  # the symbol forecast
    bars: BarSeries | pd.DataFrame  # its checked bars (or a bar frame), oldest first
    context: Mapping[str, pd.DataFrame] | None = None  # market context frames by name
    position: Sequence[float] | None = None  # the `full` variant's position state (None: flat)

    @property
    def last_time(self) -> pd.Timestamp:
        bars = self.bars
        return bars.last_time if isinstance(bars, BarSeries) else bars["timestamp"].iloc[-1]


@dataclass(frozen=True)
class PreparedForecasts:
    """Inputs checked and turned into model windows (`Forecaster.prepare`), waiting for their
    model run (`Forecaster.answer`); `serving.coalesce` merges those of concurrent requests."""

    inputs: tuple[SeriesInput, ...]  # what was asked, one window each
    variant: str  # the variant asked for (or "combined")
    models: Mapping[str, ModelArtifact]  # the model set the windows were cut for
    windows: Mapping[str, np.ndarray]  # answering variant -> (len(inputs), WINDOW, F) float32
    positions: np.ndarray | None  # (len(inputs), P) position inputs; None: all flat


def series_features(item: SeriesInput) -> np.ndarray:
    """The engine's feature rows of one input: from a `BarSeries` directly (checked already),
    from a bar frame through `compute_features` (which checks it)."""
    context = dict(item.context or {}) or None
    if isinstance(item.bars, BarSeries):
        return feature_rows(item.bars.stamps, item.bars.values, item.bars.known_at, context)
    return engine_rows(compute_features(item.bars, context))


def positions_array(inputs: Sequence[SeriesInput]) -> np.ndarray | None:
    """(len(inputs), P) position inputs, flat (zeros) where none is given; None if none is."""
    given = [item.position for item in inputs if item.position is not None]
    if not given:
        return None
    width = len(given[0])
    if any(len(position) != width for position in given):
        raise InputError("position", "every position must have the same number of values")
    return np.array([np.zeros(width) if item.position is None else item.position
                     for item in inputs], dtype=np.float32)


def batch_slice(positions: np.ndarray | None, start: int, size: int) -> np.ndarray | None:
    """The position rows of the ``size`` windows from ``start`` (a single row applies to all)."""
    if positions is None or len(positions) == 1:
        return positions
    return positions[start : start + size]


def concatenate(parts: Sequence[Prediction]) -> Prediction:
    if len(parts) == 1:
        return parts[0]
    return Prediction(*(np.concatenate([getattr(p, f) for p in parts]) for f in PREDICTION_FIELDS))
