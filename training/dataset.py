"""Training data: every symbol's sequence windows and labels, and what one fold may see of them.

`load_market` reads the bars of many symbols from the store, runs the feature engine (with the
market context that is stored) and the labels over each, and stacks everything into the shared
arrays of one `SequenceWindows`. A window is gathered from those arrays only when a batch needs
it, so memory stays at one row per bar whatever the number of windows.

`prepare_fold` then fixes what a model trained on one fold knows: the selected feature names and
the input normaliser, both fitted on rows at or before the fold's last training sample only, so
nothing from the validation span (or the embargo before it) reaches them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from contract.errors import TradecastError
from contract.walk_forward import LABEL_KINDS
from features.context import MARKET_CONTEXT
from features.engine import compute_features, feature_names, model_candidates
from features.labels import HORIZONS, make_labels
from features.selection import select_features
from features.splits import Fold
from features.windows import SequenceWindows
from marketdata.store import BarStore
from marketdata.universe import load_universe
from training.config import DataConfig
from training.losses import MISSING_CLASS


@dataclass(frozen=True)
class Samples:
    """Labels and simple inputs of a set of windows (for metrics and baselines)."""

    rows: np.ndarray  # (n,) window end rows in the shared matrix
    timestamps: pd.DatetimeIndex  # (n,) time of each window's last bar
    symbols: np.ndarray  # (n,) symbol of each window
    features: np.ndarray  # (n, F) last row of each window, selected and normalised
    returns: np.ndarray  # (n, H) forward returns
    direction: np.ndarray  # (n, H) int64 direction classes
    volatility: np.ndarray  # (n, H) forward realised volatility
    past_returns: np.ndarray  # (n, H) return over the h bars up to the window end (NaN if unknown)
    past_volatility: np.ndarray  # (n, H) realised volatility over those h bars


@dataclass
class MarketData:
    """The stacked features and labels of every symbol, shared by all folds."""

    windows: SequenceWindows  # matrix of every engine feature, labels and valid window ends
    frame: pd.DataFrame  # the stacked raw feature frame (for feature selection)
    past_returns: np.ndarray  # (T_all, H) backward-looking returns per row
    past_volatility: np.ndarray  # (T_all, H) backward-looking realised volatility per row
    horizons: tuple[int, ...]  # label horizons in bars

    @property
    def sample_timestamps(self) -> pd.DatetimeIndex:
        return self.windows.end_timestamps

    @property
    def sample_symbols(self) -> np.ndarray:
        return self.windows.end_symbols

    def labels(self, kind: str) -> np.ndarray:
        """(T_all, H) label `kind` (`ret`, `dir` or `vol`) for every row."""
        columns = [self.windows.label_columns.index(f"{kind}_{h}") for h in self.horizons]
        return self.windows.targets[:, columns]

    @property
    def span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        stamps = self.sample_timestamps
        return stamps.min(), stamps.max()


def resolve_symbols(config: DataConfig, store: BarStore) -> dict[str, str | None]:
    """Symbols to train on and their sector ETF: the explicit list, else the stored universe."""
    if config.symbols:
        return {symbol.upper(): None for symbol in config.symbols}
    stored = set(store.symbols(config.timeframe))
    entries = load_universe(config.universe).entries
    symbols = {e.symbol: e.sector_etf for e in entries if e.symbol in stored}
    if not symbols:
        raise TradecastError(
            f"universe {config.universe!r}: none of its symbols has {config.timeframe} bars in "
            f"{store.root} (import the sample or fetch bars first)"
        )
    return symbols


def load_market(
    store: BarStore,
    config: DataConfig,
    horizons: tuple[int, ...] = HORIZONS,
    end: pd.Timestamp | None = None,
    progress: bool = False,
) -> MarketData:
    """Features and labels of the configured symbols (bars up to `end` when given).

    Market context (`MARKET_CONTEXT`, plus each stock's sector ETF as the `SECTOR` series) is
    joined where the store has it; missing context is the engine's "not available".
    """
    symbols = resolve_symbols(config, store)
    stored = set(store.symbols(config.timeframe))

    def read(symbol: str) -> pd.DataFrame:
        return store.read(symbol, config.timeframe, end=end)

    market_context = {name: read(name) for name in MARKET_CONTEXT if name in stored}
    frames, labels, past_returns, past_volatility = {}, {}, [], []
    for symbol, sector in tqdm(
        symbols.items(), desc="features", unit="symbol", disable=not progress
    ):
        bars = read(symbol)
        context = dict(market_context)
        if sector in stored:
            context["SECTOR"] = read(sector)
        frames[symbol] = compute_features(bars, context)
        labels[symbol] = make_labels(bars, horizons)
        past = _past_labels(labels[symbol], horizons)
        past_returns.append(past[0])
        past_volatility.append(past[1])
    label_columns = [f"{kind}_{h}" for h in horizons for kind in LABEL_KINDS]
    windows = SequenceWindows(frames, feature_names(), labels, label_columns)
    if len(windows) == 0:
        raise TradecastError(f"no complete {windows.window}-bar windows in {list(symbols)}")
    return MarketData(
        windows=windows,
        frame=pd.concat(frames.values(), ignore_index=True),
        past_returns=np.concatenate(past_returns),
        past_volatility=np.concatenate(past_volatility),
        horizons=tuple(horizons),
    )


def _past_labels(labels: pd.DataFrame, horizons: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The return and volatility over the h bars that end at each row: the labels h rows back."""
    returns = np.column_stack([labels[f"ret_{h}"].shift(h).to_numpy() for h in horizons])
    volatility = np.column_stack([labels[f"vol_{h}"].shift(h).to_numpy() for h in horizons])
    return returns, volatility


@dataclass
class FoldData:
    """What one model sees: selected inputs, normaliser, and its training and validation windows."""

    market: MarketData
    feature_names: list[str]  # selected input names, in engine order
    inputs: np.ndarray  # (T_all, F) raw selected features, float32 (the model normalises)
    mean: np.ndarray  # (F,) normaliser mean over training rows
    std: np.ndarray  # (F,) normaliser standard deviation over training rows
    train: np.ndarray  # (n_train,) sample indices (into the windows' valid ends)
    validation: np.ndarray  # (n_val,) sample indices
    train_end: pd.Timestamp  # last bar any fitted statistic saw
    return_scale: np.ndarray  # (H,) std of training forward returns (loss scaling)
    volatility_scale: np.ndarray  # (H,) std of training forward volatility (loss scaling)

    @property
    def window(self) -> int:
        return self.market.windows.window

    def batch_inputs(self, samples: np.ndarray) -> np.ndarray:
        """(B, window, F) raw input windows of `samples`, gathered from the shared matrix."""
        ends = self.market.windows.ends[samples]
        rows = ends[:, None] + np.arange(1 - self.window, 1)  # (B, window)
        return self.inputs[rows]

    def samples(self, samples: np.ndarray) -> Samples:
        """Labels and last-row features of `samples` (for metrics and baselines)."""
        rows = self.market.windows.ends[samples]
        direction = self.market.labels("dir")[rows]
        return Samples(
            rows=rows,
            timestamps=self.market.windows.row_timestamps[rows],
            symbols=np.asarray(self.market.windows.symbols, dtype=object)[
                self.market.windows.row_symbols[rows]
            ],
            features=(self.inputs[rows] - self.mean) / self.std,
            returns=self.market.labels("ret")[rows].astype(np.float64),
            direction=np.where(np.isfinite(direction), direction, MISSING_CLASS).astype(np.int64),
            volatility=self.market.labels("vol")[rows].astype(np.float64),
            past_returns=self.market.past_returns[rows],
            past_volatility=self.market.past_volatility[rows],
        )


def prepare_fold(
    market: MarketData, fold: Fold, threshold: float, feature_names: list[str] | None = None
) -> FoldData:
    """Fit feature selection and the normaliser on the fold's training rows only.

    `feature_names` skips the selection (fine-tuning keeps the inputs its model was built on).
    """
    row_stamps = market.windows.row_timestamps
    fitted_rows = np.asarray(row_stamps <= fold.train_end)  # never past the last training sample
    names = feature_names or select_features(
        market.frame, model_candidates(), fitted_rows, threshold
    )
    if not names:
        raise TradecastError(f"fold {fold.number}: feature selection kept no feature")
    columns = [market.windows.names.index(name) for name in names]
    inputs = np.ascontiguousarray(market.windows.matrix[:, columns])
    fitted = inputs[fitted_rows]
    mean = np.nanmean(fitted, axis=0)
    std = np.nanstd(fitted, axis=0)
    std = np.where(np.isfinite(std) & (std > 1e-8), std, 1.0).astype(np.float32)
    train_rows = market.windows.ends[fold.train_index]
    return FoldData(
        market=market,
        feature_names=names,
        inputs=inputs,
        mean=np.nan_to_num(mean).astype(np.float32),
        std=std,
        train=fold.train_index,
        validation=fold.validation_index,
        train_end=fold.train_end,
        return_scale=_scale(market.labels("ret")[train_rows]),
        volatility_scale=_scale(market.labels("vol")[train_rows]),
    )


def _scale(values: np.ndarray) -> np.ndarray:
    std = np.nanstd(values.astype(np.float64), axis=0)
    return np.where(std > 0, std, 1.0).astype(np.float32)
