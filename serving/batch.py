"""Signals for whole histories, without HTTP: `tradecast signals`.

The same pieces as the service (registry, forecaster, shared signal rule) and its batched path,
`Forecaster.predict_many`: for each symbol the features are computed once, the windows whose 60
rows are warm are gathered across symbols (up to CHUNK_WINDOWS at a time, so a universe with a
few recent bars each still fills the model's batches), and the signal rule runs over each
series in time order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from contract.errors import BarDataError, UnknownSymbolError
from contract.home import resolve_home
from features.context import MARKET_CONTEXT
from features.engine import compute_features
from features.windows import WINDOW
from marketdata.store import BarStore
from marketdata.universe import load_universe
from policy.signal_rule import combine_horizons, positions_from_predictions
from serving.config import ServingConfig
from serving.forecasting import Forecaster
from serving.predictor import Prediction
from serving.registry import ModelRegistry
from serving.windows import engine_rows, pick_columns

CHUNK_WINDOWS = 4096  # windows gathered across symbols before one predict_many call


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
    sectors = symbol_sectors(symbols, universe)
    frames = symbols_signals(forecaster, store, sectors, variant, start,
                             context_bars(store, MARKET_CONTEXT))
    if not frames:
        since = f" since {start:%Y-%m-%d}" if start else ""
        raise BarDataError(f"no bar with a full warm window{since} for {', '.join(sectors)}")
    result = pd.concat(frames, ignore_index=True)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_parquet(out, index=False)
    return result


def symbol_sectors(
    symbols: Sequence[str] | None, universe: str | None
) -> dict[str, str | None]:
    """Symbol -> its sector ETF (None: none), from ``symbols`` or a universe's entries."""
    if universe is not None:
        return {entry.symbol: entry.sector_etf for entry in load_universe(universe).entries}
    return {symbol: None for symbol in symbols or ()}


def symbols_signals(
    forecaster: Forecaster,
    store: BarStore,
    sectors: dict[str, str | None],
    variant: str,
    start: datetime | None,
    market: dict[str, pd.DataFrame],
    progress: bool = True,
) -> list[pd.DataFrame]:
    """One signal frame per symbol of ``sectors`` that has warm windows (features computed from
    the symbol's whole stored history, so every kernel is warm at ``start``); ``market`` is
    `context_bars(store, MARKET_CONTEXT)`. Batch signals on Ray call this per partition."""
    frames, pending = [], []
    for symbol, sector in tqdm(sectors.items(), desc="signals", unit="symbol",
                               disable=not progress):
        context = {**market, **context_bars(store, [sector] if sector else [], slot="SECTOR")}
        pending.append(symbol_windows(forecaster, symbol, store.read(symbol, "1d"), context,
                                      variant, start))
        if sum(len(item[2]) for item in pending) >= CHUNK_WINDOWS:
            frames += signal_frames(forecaster, pending, variant)
            pending = []
    return frames + signal_frames(forecaster, pending, variant)


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


def symbol_windows(
    forecaster: Forecaster,
    symbol: str,
    bars: pd.DataFrame,
    context: dict[str, pd.DataFrame],
    variant: str,
    start: datetime | None,
) -> tuple[str, pd.DataFrame, np.ndarray]:
    """One symbol's features and the rows (since ``start``) whose window is warm."""
    frame = compute_features(bars, context or None)
    ends = warm_ends(frame, forecaster, variant)
    if start is not None:
        ends = ends[frame["timestamp"].iloc[ends].to_numpy() >= pd.Timestamp(start, tz="UTC")]
    return symbol, frame, ends


def signal_frames(
    forecaster: Forecaster, pending: list[tuple[str, pd.DataFrame, np.ndarray]], variant: str
) -> list[pd.DataFrame]:
    """Several symbols' windows through the service's batched path (`predict_many`: batches
    span symbols), then each symbol's rows: timestamp, symbol, p_*/ret_pred_*/vol_pred_* per
    horizon, and the signal rule's position over its series in time order."""
    pending = [item for item in pending if len(item[2])]
    if not pending:
        return []
    prediction, _, horizons = forecaster.predict_many(
        [frame for _, frame, _ in pending], variant, [ends for _, _, ends in pending]
    )
    rule = forecaster.config.signal_rule
    frames, offset = [], 0
    for symbol, frame, ends in pending:
        part = slice(offset, offset + len(ends))
        offset += len(ends)
        mine = Prediction(prediction.probabilities[part], prediction.returns[part],
                          prediction.volatility[part], prediction.attention[part])
        probs, per_bar_return, per_bar_vol = combine_horizons(
            mine.probabilities, mine.returns, mine.volatility, horizons, rule
        )
        rows = {"timestamp": frame["timestamp"].iloc[ends].to_numpy(), "symbol": symbol}
        rows.update(prediction_columns(mine, horizons))
        rows["position"] = positions_from_predictions(probs, per_bar_return, per_bar_vol, rule)
        frames.append(pd.DataFrame(rows))
    return frames


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
