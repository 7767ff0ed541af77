"""The look-ahead checker: proof, on any bar series, that no feature reads the future.

For several cut points t (spread over the series) it runs the feature engine again and compares
every feature at rows at or before t with the full-series run:

- **bars truncated**: the engine sees only the bars up to t;
- **bars perturbed**: every bar after t is scaled by a random factor (prices and volume, so the
  bars stay valid);
- **context truncated** / **context perturbed**: the same with the market context series
  (SPY, VIX, ...) cut or perturbed where they became known after bar t did; the as-of join may
  use a context bar known by the end of t, never a later one. "After" compares known-at times
  (:mod:`marketdata.sessions`), so the checks hold for any mix of timeframes and calendars:
  daily context on minute bars, hourly context on daily bars, crypto against stocks;
- **selection**: feature selection fitted on the rows up to t gives the same names when every
  later row is replaced by one random vector in every column (which would make all features
  perfectly correlated, were those rows looked at).

A check passes when the compared values are identical (NaN where NaN): the engine is causal by
construction, so any difference, however small, is a leak. :func:`check_lookahead` returns a
:class:`LookaheadReport`; ``tradecast features check-lookahead`` prints it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from contract.errors import BarDataError
from features.engine import compute_features, feature_names
from features.selection import DEFAULT_THRESHOLD, select_features
from marketdata.sessions import known_at_ns

Compute = Callable[[pd.DataFrame, Mapping[str, pd.DataFrame] | None], pd.DataFrame]

PRICE_NOISE = 0.05  # standard deviation of the log scale factor applied to a perturbed price
VOLUME_NOISE = 0.5  # the same for volume
SHOWN_COLUMNS = 5  # leaking columns named in a report line


@dataclass(frozen=True)
class CheckResult:
    check: str  # which test: "bars truncated", "bars perturbed", "context ...", "selection"
    cut: pd.Timestamp  # known-at time of the last bar whose features must not change
    leaking: tuple[str, ...]  # columns (or selected names) that changed at or before the cut
    max_abs_diff: float  # largest change seen at or before the cut (inf: NaN became a number)

    @property
    def passed(self) -> bool:
        return not self.leaking


@dataclass(frozen=True)
class LookaheadReport:
    series: str  # what was checked (a file or a symbol)
    rows: int  # bars in the series
    context: tuple[str, ...]  # context series joined
    results: tuple[CheckResult, ...]  # one per check and cut point

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    @property
    def leaking_columns(self) -> list[str]:
        """Every column that leaked in some check, in first-seen order."""
        return list(dict.fromkeys(c for result in self.results for c in result.leaking))

    def format(self) -> str:
        """A readable report: one line per check and cut, then the verdict."""
        context = ", ".join(self.context) or "none"
        lines = [f"look-ahead check of {self.series}: {self.rows} bars, context: {context}"]
        for result in self.results:
            if result.passed:
                verdict = "ok"
            else:
                names = ", ".join(result.leaking[:SHOWN_COLUMNS])
                more = len(result.leaking) - SHOWN_COLUMNS
                names += f" (+{more} more)" if more > 0 else ""
                verdict = f"LEAK in {names}; max |change| {result.max_abs_diff:.3g}"
            lines.append(f"  {result.check:<20} cut {result.cut:%Y-%m-%d %H:%M}  {verdict}")
        failed = sum(not result.passed for result in self.results)
        if failed:
            lines.append(f"FAILED: {failed} of {len(self.results)} checks saw the future")
        else:
            lines.append(f"passed: {len(self.results)} checks, no feature depends on a later bar")
        return "\n".join(lines)


def check_lookahead(
    bars: pd.DataFrame,
    context: Mapping[str, pd.DataFrame] | None = None,
    *,
    cuts: int = 5,
    seed: int = 0,
    series: str = "bars",
    threshold: float = DEFAULT_THRESHOLD,
    compute: Compute = compute_features,
) -> LookaheadReport:
    """Run every look-ahead check on ``bars`` (and ``context``) at ``cuts`` cut points.

    ``compute`` is the feature function under test (the engine's batch build by default).
    """
    if len(bars) < 3:
        raise BarDataError(f"{series}: a look-ahead check needs at least 3 bars, got {len(bars)}")
    if cuts < 1:
        raise ValueError(f"cuts must be at least 1, got {cuts}")
    # known-at times are fixed once: a guessed bar length must not change when rows are cut
    bars = _with_known_at(bars, series)
    context = {name: _with_known_at(frame, f"context {name}")
               for name, frame in (context or {}).items()}
    rng = np.random.default_rng(seed)
    full = compute(bars, context)
    results = []
    for row in _cut_rows(len(bars), cuts):
        cut = bars["known_at"].iloc[row]
        kept = slice(0, row + 1)
        altered = {  # check -> the inputs the engine runs on again
            "bars truncated": (bars.iloc[kept], context),
            "bars perturbed": (_perturb_after(bars, cut, rng), context),
        }
        if context:
            altered["context truncated"] = (
                bars, {name: c[c["known_at"] <= cut] for name, c in context.items()}
            )
            altered["context perturbed"] = (
                bars, {name: _perturb_after(c, cut, rng) for name, c in context.items()}
            )
        for check, (new_bars, new_context) in altered.items():
            seen = compute(new_bars, new_context).iloc[kept]
            results.append(_compare(check, cut, full.iloc[kept], seen))
        results.append(_check_selection(full, row, cut, threshold, rng))
    return LookaheadReport(series, len(bars), tuple(context), tuple(results))


def _cut_rows(length: int, cuts: int) -> list[int]:
    """``cuts`` rows spread evenly inside the series (never the last row: nothing follows it)."""
    return sorted({int(row) for row in np.linspace(0, length - 1, cuts + 2)[1:-1].round()})


def _with_known_at(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    if "known_at" in frame.columns:
        return frame
    return frame.assign(known_at=pd.to_datetime(known_at_ns(frame, origin), utc=True))


def _perturb_after(
    frame: pd.DataFrame, cut: pd.Timestamp, rng: np.random.Generator
) -> pd.DataFrame:
    """A copy with every row known after ``cut`` scaled by random factors.

    All prices of a bar share one factor, so high >= open, close >= low still holds.
    """
    later = (frame["known_at"] > cut).to_numpy()
    shaken = frame.copy()
    price_factor = np.exp(rng.normal(0.0, PRICE_NOISE, later.sum()))
    volume_factor = np.exp(rng.normal(0.0, VOLUME_NOISE, later.sum()))
    for name in frame.columns:
        if name != "timestamp" and pd.api.types.is_float_dtype(frame[name]):
            factor = volume_factor if name == "volume" else price_factor
            shaken.loc[later, name] = frame.loc[later, name] * factor
    return shaken


def _compare(
    check: str, cut: pd.Timestamp, expected: pd.DataFrame, seen: pd.DataFrame
) -> CheckResult:
    """The columns whose values at the kept rows differ (NaN equals NaN)."""
    leaking, largest = [], 0.0
    for name in expected.columns:
        if name == "timestamp":
            continue
        if name not in seen.columns:
            leaking.append(name)
            continue
        a = expected[name].to_numpy(dtype=np.float64)
        b = seen[name].to_numpy(dtype=np.float64)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        if not same.all():
            leaking.append(name)
            with np.errstate(invalid="ignore"):
                diff = np.nan_to_num(np.abs(a - b)[~same], nan=np.inf)
            largest = max(largest, float(diff.max()))
    return CheckResult(check, cut, tuple(leaking), largest)


def _check_selection(
    frame: pd.DataFrame, row: int, cut: pd.Timestamp, threshold: float, rng: np.random.Generator
) -> CheckResult:
    """Selection fitted on rows up to ``row`` must not see what is planted in later rows."""
    names = [name for name in feature_names() if name in frame.columns]
    train_mask = np.arange(len(frame)) <= row
    planted = frame.copy()
    same_everywhere = rng.normal(size=(~train_mask).sum())
    for name in names:
        planted.loc[~train_mask, name] = same_everywhere
    honest = select_features(frame, names, train_mask, threshold)
    fooled = select_features(planted, names, train_mask, threshold)
    changed = tuple(sorted(set(honest) ^ set(fooled)))
    return CheckResult("selection", cut, changed, float(len(changed)))
