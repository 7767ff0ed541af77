"""Walk-forward splits: train up to year N, validate on year N + 1, roll forward one year.

Samples are the rows a model learns from (window ends), given by their timestamps and, when
several symbols are pooled, their symbols. Time is counted in steps of the *timeline*, the
sorted distinct sample timestamps, so "24 bars" means 24 steps of the calendar the data has.

Two rules keep the future out of training:

- **Purge.** A training sample's label ends ``horizon`` bars later (its symbol's own bars). A
  training sample is kept only if that end lies before the embargo.
- **Embargo.** At least ``embargo`` timeline steps lie strictly between the last training label's
  end and the first validation sample, and ``embargo`` may not be shorter than ``horizon``.

So the last training sample sits at least ``horizon + embargo`` steps before validation. Where a
label's end is not among the samples (the symbol's last ``horizon`` samples), it is unknown and
the sample is purged: losing a few samples is cheaper than leaking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from contract.errors import TradecastError
from features.labels import HORIZONS


@dataclass(frozen=True, eq=False)
class Fold:
    number: int  # 0 for the first validation year, then 1, 2, ...
    validation_year: int  # the calendar year (UTC) validated on
    train_start: pd.Timestamp  # first training sample
    train_end: pd.Timestamp  # last training sample (after purge and embargo)
    validation_start: pd.Timestamp  # first validation sample
    validation_end: pd.Timestamp  # last validation sample
    train_mask: np.ndarray  # bool per sample, aligned with the timestamps given
    validation_mask: np.ndarray  # bool per sample, aligned with the timestamps given

    @property
    def train_index(self) -> np.ndarray:
        return np.flatnonzero(self.train_mask)

    @property
    def validation_index(self) -> np.ndarray:
        return np.flatnonzero(self.validation_mask)

    def describe(self) -> str:
        return (
            f"fold {self.number}: train {self.train_start:%Y-%m-%d}..{self.train_end:%Y-%m-%d} "
            f"({self.train_mask.sum()} samples), validate {self.validation_start:%Y-%m-%d}.."
            f"{self.validation_end:%Y-%m-%d} ({self.validation_mask.sum()} samples)"
        )


def walk_forward_splits(
    timestamps: pd.Series | pd.DatetimeIndex | np.ndarray,
    symbols: pd.Series | np.ndarray | None = None,
    *,
    first_validation_year: int | None = None,
    embargo: int = max(HORIZONS),
    horizon: int = max(HORIZONS),
    min_train_years: int = 2,
    train_years: int | None = None,
) -> list[Fold]:
    """Yearly walk-forward folds over the samples at ``timestamps``.

    ``symbols`` (one per sample) is needed when several series are pooled, so that a label's end
    is found among its own symbol's bars. ``first_validation_year`` defaults to the first year of
    data plus ``min_train_years``. The training window expands from the first sample, or keeps
    only the last ``train_years`` years when that is given. Years without training or validation
    samples give no fold.
    """
    if embargo < horizon:
        raise ValueError(f"embargo ({embargo} bars) must be at least the label horizon ({horizon})")
    stamps = pd.DatetimeIndex(pd.to_datetime(np.asarray(timestamps), utc=True)).as_unit("ns")
    if stamps.hasnans:
        raise TradecastError("walk-forward splits: a sample timestamp is missing (NaT)")
    if len(stamps) == 0:
        return []
    label_end_step, step = _timeline_steps(stamps, symbols, horizon)
    years = stamps.year.to_numpy()

    if first_validation_year is None:
        first_validation_year = int(years.min()) + min_train_years
    folds = []
    for year in range(first_validation_year, int(years.max()) + 1):
        validation_mask = years == year
        if not validation_mask.any():
            continue
        first_validation_step = step[validation_mask].min()
        # Purge and embargo: the label must end with `embargo` steps to spare.
        train_mask = (label_end_step + embargo < first_validation_step) & (years < year)
        if train_years is not None:
            train_mask &= years >= year - train_years
        if not train_mask.any():
            continue
        folds.append(_fold(len(folds), year, stamps, train_mask, validation_mask))
    return folds


def _fold(
    number: int,
    year: int,
    stamps: pd.DatetimeIndex,
    train_mask: np.ndarray,
    validation_mask: np.ndarray,
) -> Fold:
    train_mask.flags.writeable = validation_mask.flags.writeable = False  # a frozen fold
    return Fold(
        number=number,
        validation_year=year,
        train_start=stamps[train_mask].min(),
        train_end=stamps[train_mask].max(),
        validation_start=stamps[validation_mask].min(),
        validation_end=stamps[validation_mask].max(),
        train_mask=train_mask,
        validation_mask=validation_mask,
    )


def held_out_symbol_splits(
    timestamps: pd.Series | pd.DatetimeIndex | np.ndarray,
    symbols: pd.Series | np.ndarray,
    held_out: tuple[str, ...],
    **yearly,
) -> list[Fold]:
    """Yearly folds that train on the other symbols and validate on the `held_out` ones only.

    Each fold is `walk_forward_splits`' fold of that year (same purge and embargo, keyword
    arguments passed on) with the held-out symbols taken out of training and everything else
    out of validation: a model is scored on series it never saw, and only on years after the
    ones it trained on. Years where either side is empty give no fold.
    """
    symbols = np.asarray(symbols).astype(str)
    unknown = sorted(set(held_out) - set(symbols))
    if unknown:
        raise TradecastError(f"held-out symbols {unknown} have no samples (symbols: "
                             f"{', '.join(sorted(set(symbols)))})")
    held = np.isin(symbols, list(held_out))
    stamps = pd.DatetimeIndex(pd.to_datetime(np.asarray(timestamps), utc=True)).as_unit("ns")
    folds = []
    for fold in walk_forward_splits(timestamps, symbols, **yearly):
        train_mask, validation_mask = fold.train_mask & ~held, fold.validation_mask & held
        if train_mask.any() and validation_mask.any():
            folds.append(_fold(len(folds), fold.validation_year, stamps, train_mask,
                               validation_mask))
    return folds


def _timeline_steps(
    stamps: pd.DatetimeIndex, symbols: pd.Series | np.ndarray | None, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's timeline step and the step its label ends on (float, inf if unknown)."""
    timeline = np.unique(stamps.asi8)
    step = np.searchsorted(timeline, stamps.asi8)
    if symbols is None:
        if len(timeline) != len(stamps):
            raise TradecastError(
                "walk-forward splits: timestamps repeat; pass `symbols` for pooled series"
            )
        symbols = np.zeros(len(stamps), dtype=np.int64)
    symbols = np.asarray(symbols)
    if len(symbols) != len(stamps):
        raise ValueError(f"{len(symbols)} symbols for {len(stamps)} timestamps")

    label_end_step = np.full(len(stamps), np.inf)
    for symbol in pd.unique(symbols):
        rows = np.flatnonzero(symbols == symbol)
        rows = rows[np.argsort(stamps.asi8[rows], kind="stable")]
        if len(np.unique(stamps.asi8[rows])) != len(rows):
            raise TradecastError(f"walk-forward splits: symbol {symbol!r} repeats a timestamp")
        # The label of the symbol's k-th sample ends at its (k + horizon)-th sample.
        label_end_step[rows[: max(len(rows) - horizon, 0)]] = step[rows[horizon:]]
    return label_end_step, step
