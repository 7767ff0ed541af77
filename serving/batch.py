"""Signals for whole histories, without HTTP: `tradecast signals`.

The same pieces as the service (registry, forecaster, shared signal rule), batched: for each
symbol the features are computed once, every window whose 60 rows are warm is predicted in
batches, and the signal rule runs over the series in time order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from features.engine import compute_features
from features.errors import BarDataError, UnknownSymbolError
from features.home import resolve_home
from features.signal_rule import combine_horizons, positions_from_predictions
from features.store import BarStore
from features.universe import load_universe
from features.windows import WINDOW
from serving.pipeline import Forecaster, ServingConfig, engine_rows, pick_columns
from serving.predictor import Prediction
from serving.registry import ModelRegistry

MARKET_CONTEXT = ("SPY", "QQQ", "VIX")  # the engine's market context series (when stored)


def generate_signals(
    home: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    symbols: Sequence[str] | None = None,
    universe: str | None = None,
    start: datetime | None = None,
    variant: str = "hybrid",
    config: ServingConfig | None = None,
) -> pd.DataFrame:
    """Predictions and target positions for every warm bar since ``start``; written to ``out``."""
    resolved = resolve_home(home)
    store = BarStore(resolved.bars_dir)
    forecaster = Forecaster(ModelRegistry(resolved.exported_dir), config or ServingConfig())
    sectors: dict[str, str | None] = {symbol: None for symbol in symbols or ()}
    if universe is not None:
        sectors = {entry.symbol: entry.sector_etf for entry in load_universe(universe).entries}
    market = context_bars(store, MARKET_CONTEXT)
    frames = []
    for symbol, sector in tqdm(sectors.items(), desc="signals", unit="symbol"):
        context = {**market, **context_bars(store, [sector] if sector else [], slot="SECTOR")}
        bars = store.read(symbol, "1d")
        frames.append(symbol_signals(forecaster, symbol, bars, context, variant, start))
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        since = f" since {start:%Y-%m-%d}" if start else ""
        raise BarDataError(f"no bar with a full warm window{since} for {', '.join(sectors)}")
    result = pd.concat(frames, ignore_index=True)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_parquet(out, index=False)
    return result


def context_bars(
    store: BarStore, names: Sequence[str], slot: str | None = None
) -> dict[str, pd.DataFrame]:
    """The context series the store holds, keyed by name (or ``slot``); missing ones are absent,
    and the features then say "not available", as live."""
    context = {}
    for name in names:
        try:
            context[slot or name] = store.read(name, "1d")
        except UnknownSymbolError:
            continue
    return context


def symbol_signals(
    forecaster: Forecaster,
    symbol: str,
    bars: pd.DataFrame,
    context: dict[str, pd.DataFrame],
    variant: str,
    start: datetime | None,
) -> pd.DataFrame:
    """One symbol's rows: timestamp, symbol, p_*/ret_pred_*/vol_pred_* per horizon, position."""
    frame = compute_features(bars, context or None)
    ends = warm_ends(frame, forecaster, variant)
    if start is not None:
        ends = ends[frame["timestamp"].iloc[ends].to_numpy() >= pd.Timestamp(start, tz="UTC")]
    if len(ends) == 0:
        return pd.DataFrame()
    prediction, _, horizons = forecaster.predict_windows(frame, variant, ends)
    rule = forecaster.config.signal_rule
    probs, per_bar_return, per_bar_vol = combine_horizons(
        prediction.probabilities, prediction.returns, prediction.volatility, horizons, rule
    )
    rows = {"timestamp": frame["timestamp"].iloc[ends].to_numpy(), "symbol": symbol}
    rows.update(prediction_columns(prediction, horizons))
    rows["position"] = positions_from_predictions(probs, per_bar_return, per_bar_vol, rule)
    return pd.DataFrame(rows)


def warm_ends(frame: pd.DataFrame, forecaster: Forecaster, variant: str) -> np.ndarray:
    """Rows whose WINDOW-row window has no warm-up NaN in any column the variant(s) use."""
    models = forecaster.registry.models
    names = sorted({name for v in forecaster.variants(variant) for name in models[v].feature_names})
    finite = np.isfinite(pick_columns(engine_rows(frame), names)).all(axis=1)
    run = np.convolve(finite.astype(int), np.ones(WINDOW, dtype=int))[: len(finite)]
    return np.flatnonzero(run == WINDOW)


def prediction_columns(prediction: Prediction, horizons: Sequence[int]) -> dict[str, np.ndarray]:
    """The walk-forward predictions' column names (docs/interfaces.md)."""
    columns = {}
    for index, horizon in enumerate(horizons):
        for klass, label in enumerate(("p_down", "p_flat", "p_up")):
            columns[f"{label}_{horizon}"] = prediction.probabilities[:, index, klass]
        columns[f"ret_pred_{horizon}"] = prediction.returns[:, index]
        columns[f"vol_pred_{horizon}"] = prediction.volatility[:, index]
    return columns
