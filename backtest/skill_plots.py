"""The walk-forward report's PNGs: reliability, deciles and bootstrap intervals."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from backtest.report import save_figure  # noqa: E402
from backtest.skill import ModelSkill, SharpeEdge  # noqa: E402
from features.bootstrap import Interval  # noqa: E402


def plot_reliability(path: Path, skills: Mapping[str, ModelSkill], horizon: int) -> None:
    """Predicted P(up) against the observed frequency of up moves, one curve per model."""
    figure, axis = plt.subplots(figsize=(6, 5))
    axis.plot([0, 1], [0, 1], color="black", linewidth=0.8, linestyle="--", label="calibrated")
    for name, skill in skills.items():
        curve = skill.reliability[horizon]
        if len(curve) > 1:  # a constant call is one point: nothing to read off
            axis.plot(curve["predicted"], curve["observed"], marker="o", markersize=3, label=name)
    axis.set(title=f"Reliability, {horizon}-bar direction (out of sample)",
             xlabel="predicted P(up)", ylabel="observed share of up moves", xlim=(0, 1),
             ylim=(0, 1))
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    save_figure(figure, path)


def plot_deciles(
    path: Path, skills: Mapping[str, ModelSkill], horizons: tuple[int, ...], kind: str
) -> None:
    """Mean realised against mean predicted per decile of the prediction (`kind`: returns or
    volatility)."""
    figure, axes = plt.subplots(1, len(horizons), figsize=(5 * len(horizons), 4.5))
    for axis, horizon in zip(list(axes), horizons, strict=True):
        low, high = math.inf, -math.inf
        for name, skill in skills.items():
            table = (skill.return_deciles if kind == "returns" else skill.volatility_deciles)[
                horizon
            ]
            if len(table) > 1:
                axis.plot(table["predicted"], table["realised"], marker="o", markersize=3,
                          label=name)
                low = min(low, table["predicted"].min(), table["realised"].min())
                high = max(high, table["predicted"].max(), table["realised"].max())
        if math.isfinite(low):
            axis.plot([low, high], [low, high], color="black", linewidth=0.8, linestyle="--")
        axis.set(title=f"{kind}, {horizon} bars: deciles of the prediction",
                 xlabel="mean predicted", ylabel="mean realised")
        axis.grid(alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=7)
    save_figure(figure, path)


def plot_intervals(
    path: Path,
    edges: Mapping[str, SharpeEdge],
    ics: Mapping[str, Mapping[int, Interval]],
    horizons: tuple[int, ...],
) -> None:
    """Bootstrap intervals: net Sharpe minus buy-and-hold's, and the rank IC per horizon."""
    panels = 1 + len(horizons)
    figure, axes = plt.subplots(1, panels, figsize=(4.5 * panels, 0.45 * len(ics) + 2.5))
    _interval_panel(axes[0], {name: edge.difference for name, edge in edges.items()},
                    "net Sharpe − buy-and-hold")
    for axis, horizon in zip(list(axes[1:]), horizons, strict=True):
        _interval_panel(axis, {name: by_h[horizon] for name, by_h in ics.items()},
                        f"rank IC, {horizon} bars")
    save_figure(figure, path)


def _interval_panel(axis, intervals: Mapping[str, Interval], title: str) -> None:
    names = list(intervals)
    for row, name in enumerate(names):
        interval = intervals[name]
        if math.isfinite(interval.low):
            color = "tab:grey" if interval.covers_zero else "tab:blue"
            axis.plot([interval.low, interval.high], [row, row], color=color, linewidth=3)
            axis.plot([interval.estimate], [row], marker="o", color="black", markersize=4)
    axis.axvline(0.0, color="tab:red", linewidth=0.8)
    axis.set_yticks(range(len(names)), names, fontsize=8)
    axis.invert_yaxis()
    axis.set_title(f"{title} (95 % interval)", fontsize=9)
    axis.grid(alpha=0.3, axis="x")
