"""Block-bootstrap confidence intervals: is a model's edge more than luck?

Daily returns and overlapping multi-bar labels are autocorrelated, so rows cannot be resampled
one by one. The stationary bootstrap (Politis and Romano, 1994) resamples blocks of consecutive
bars whose lengths are geometric with mean `block`, wrapping around the end, and keeps the
series stationary. Two series compared (a model against buy-and-hold) are resampled with the
same indices, so their shared market moves cancel. An interval is the percentile interval of
the statistic over the resamples; one that covers zero means "indistinguishable from zero".
numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RESAMPLES = 1000  # bootstrap resamples per interval
LEVEL = 0.95  # two-sided coverage of the intervals
SHARPE_BLOCK = 20  # mean block length for daily returns, in bars (about a trading month)


@dataclass(frozen=True)
class Interval:
    estimate: float  # the statistic on the data as they are
    low: float  # lower end of the percentile interval
    high: float  # upper end
    level: float  # coverage (0.95)
    error: float = math.nan  # standard deviation of the resampled statistic (standard error)

    @property
    def t(self) -> float:
        """estimate / bootstrap standard error: a t-statistic that respects the blocks."""
        return self.estimate / self.error if self.error > 0 else math.nan

    @property
    def covers_zero(self) -> bool:
        """True when zero lies inside (or the interval is undefined): no evidence of an edge."""
        return not (self.low > 0 or self.high < 0)

    def to_dict(self) -> dict[str, float | bool]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "t": self.t,
                "level": self.level, "covers_zero": self.covers_zero}


def stationary_indices(
    n: int, *, block: float, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """(resamples, n) row indices: blocks of geometric length (mean `block`) from random starts."""
    if n == 0:
        return np.zeros((resamples, 0), dtype=np.int64)
    starts = rng.integers(0, n, size=(resamples, n))
    new_block = rng.random((resamples, n)) < 1.0 / max(block, 1.0)
    new_block[:, 0] = True
    # Within a block each index is the previous one plus one; a new block jumps to its start.
    first_position = np.maximum.accumulate(np.where(new_block, np.arange(n), 0), axis=1)
    block_start = np.take_along_axis(starts, first_position, axis=1)
    return (block_start + np.arange(n) - first_position) % n


def percentile_interval(
    estimate: float, resampled: np.ndarray, level: float = LEVEL
) -> Interval:
    finite = resampled[np.isfinite(resampled)]
    if not math.isfinite(estimate) or len(finite) < 0.5 * len(resampled):
        return Interval(estimate, math.nan, math.nan, level)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return Interval(float(estimate), float(low), float(high), level, float(finite.std(ddof=1)))


def sharpe_difference(
    returns: np.ndarray,
    benchmark: np.ndarray,
    periods: float,
    *,
    block: float = SHARPE_BLOCK,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> Interval:
    """Annualised Sharpe of `returns` minus that of `benchmark` (same bars), with its interval."""
    returns, benchmark = np.asarray(returns, float), np.asarray(benchmark, float)
    if returns.shape != benchmark.shape:
        raise ValueError(f"{returns.shape} returns against {benchmark.shape} benchmark returns")
    rows = stationary_indices(len(returns), block=block, resamples=resamples,
                              rng=np.random.default_rng(seed))
    estimate = _sharpe(returns[None], periods)[0] - _sharpe(benchmark[None], periods)[0]
    resampled = _sharpe(returns[rows], periods) - _sharpe(benchmark[rows], periods)
    return percentile_interval(float(estimate), resampled, level)


def _sharpe(returns: np.ndarray, periods: float) -> np.ndarray:
    """Row-wise annualised Sharpe ratio (NaN for a flat row)."""
    spread = returns.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(spread > 0, returns.mean(axis=1) / spread * math.sqrt(periods), np.nan)


def rank_ic_interval(
    predicted: np.ndarray,  # (n,)
    realised: np.ndarray,  # (n,)
    groups: np.ndarray,  # (n,) each row's series (a symbol, or a symbol and fold)
    timestamps: np.ndarray,  # (n,) int64 or datetime64
    *,
    block: float,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> Interval:
    """The rank IC (each group's Spearman correlation, row-weighted) with its interval.

    Dates are resampled in blocks on the shared timeline, every group's row of a picked date
    coming along, so the cross-sectional dependence stays in. Ranks are taken once per group;
    a resample correlates the ranks it drew (the Spearman correlation of the data, up to ties).
    """
    known = np.isfinite(predicted) & np.isfinite(realised)
    series, inverse = np.unique(np.asarray(groups)[known], return_inverse=True)
    dates, date_of_row = np.unique(np.asarray(timestamps)[known], return_inverse=True)
    shape = (len(dates), len(series))
    ranked_predicted, ranked_realised = np.full(shape, np.nan), np.full(shape, np.nan)
    for column in range(len(series)):
        rows = inverse == column
        ranked_predicted[date_of_row[rows], column] = _ranks(predicted[known][rows])
        ranked_realised[date_of_row[rows], column] = _ranks(realised[known][rows])
    estimate = _weighted_correlation(ranked_predicted[None], ranked_realised[None])[0]
    picks = stationary_indices(len(dates), block=block, resamples=resamples,
                               rng=np.random.default_rng(seed))
    resampled = _weighted_correlation(ranked_predicted[picks], ranked_realised[picks])
    return percentile_interval(float(estimate), resampled, level)


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), as scipy.stats.rankdata."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    _, tie, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(tie, weights=ranks)
    return sums[tie] / counts[tie]


def _weighted_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(B, dates, groups) -> (B,): per-group Pearson correlation, averaged by row count."""
    present = np.isfinite(x) & np.isfinite(y)
    count = present.sum(axis=1)  # (B, S)
    x, y = np.where(present, x, 0.0), np.where(present, y, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_x, mean_y = x.sum(1) / count, y.sum(1) / count
        dx = np.where(present, x - mean_x[:, None], 0.0)
        dy = np.where(present, y - mean_y[:, None], 0.0)
        correlation = (dx * dy).sum(1) / np.sqrt((dx**2).sum(1) * (dy**2).sum(1))  # (B, S)
    usable = np.isfinite(correlation) & (count >= 3)
    weights = np.where(usable, count, 0)
    total = weights.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (np.where(usable, correlation, 0.0) * weights).sum(axis=1) / total
    return np.where(total > 0, mean, np.nan)
