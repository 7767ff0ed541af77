"""The output folder of a backtest: metrics.json, trades.csv, equity.csv and PNG plots."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from backtest.metrics import drawdown  # noqa: E402
from backtest.simulator import BacktestResult  # noqa: E402

TABLE_COLUMNS = (
    "total_return", "annual_return", "sharpe", "sortino", "max_drawdown", "calmar",
    "win_rate", "turnover", "trades", "costs_fraction", "exposure",
)


def comparison_table(summaries: Mapping[str, dict]) -> pd.DataFrame:
    """One row per run (model or baseline), portfolio metrics net of costs."""
    rows = {name: {c: s["portfolio"][c] for c in TABLE_COLUMNS} for name, s in summaries.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("run")


def fold_table(summary: dict) -> pd.DataFrame | None:
    """One row per walk-forward fold of one run (None when its signals carried no fold)."""
    if "folds" not in summary:
        return None
    columns = ["total_return", "sharpe", "max_drawdown"]
    folds = {fold: {c: metrics[c] for c in columns} for fold, metrics in summary["folds"].items()}
    return pd.DataFrame.from_dict(folds, orient="index").rename_axis("fold")


def write_report(
    out_dir: Path,
    results: Mapping[str, BacktestResult],
    summaries: Mapping[str, dict],
    main: str,
    benchmark: str = "buy_and_hold",
) -> Path:
    """Write the folder for run ``main`` with the others (``benchmark`` among them) to compare."""
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = {
        "main": main,
        "comparison": comparison_table(summaries).to_dict(orient="index"),
        "runs": summaries,
    }
    (out_dir / "metrics.json").write_text(json.dumps(json_ready(metrics), indent=2) + "\n")
    result = results[main]
    result.trades.to_csv(out_dir / "trades.csv", index=False)
    equity = result.equity.copy()
    equity["drawdown"] = drawdown(equity["return"].to_numpy())
    equity[f"{benchmark}_equity"] = results[benchmark].equity["equity"].to_numpy()
    equity.to_csv(out_dir / "equity.csv", index=False)

    periods = summaries[main]["periods_per_year"]
    _plot_equity(out_dir / "equity.png", {name: results[name] for name in (main, benchmark)})
    _plot_drawdown(out_dir / "drawdown.png", result, main)
    _plot_monthly_returns(out_dir / "monthly_returns.png", result, main)
    _plot_rolling_sharpe(out_dir / "rolling_sharpe.png", result, main, periods)
    if len(results) > 2:
        _plot_equity(out_dir / "comparison.png", results)
    return out_dir


def json_ready(value: object) -> object:
    """JSON-ready: NaN and infinities become null (JSON has neither), numpy scalars Python ones."""
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _plot_equity(path: Path, results: Mapping[str, BacktestResult]) -> None:
    figure, axis = plt.subplots(figsize=(10, 5))
    for name, result in results.items():
        capital = result.config.initial_capital
        axis.plot(result.equity["timestamp"], result.equity["equity"] / capital, label=name)
    axis.set(title="Equity, net of costs (1 = starting capital)", ylabel="growth of 1")
    axis.set_yscale("log")
    axis.legend()
    axis.grid(alpha=0.3)
    save_figure(figure, path)


def _plot_drawdown(path: Path, result: BacktestResult, name: str) -> None:
    figure, axis = plt.subplots(figsize=(10, 3.5))
    fall = drawdown(result.equity["return"].to_numpy())
    axis.fill_between(result.equity["timestamp"], fall * 100, 0, color="tab:red", alpha=0.5)
    axis.set(title=f"Drawdown: {name}", ylabel="% below the peak")
    axis.grid(alpha=0.3)
    save_figure(figure, path)


def _plot_monthly_returns(path: Path, result: BacktestResult, name: str) -> None:
    returns = result.equity.set_index("timestamp")["return"]
    monthly = (1.0 + returns).groupby([returns.index.year, returns.index.month]).prod() - 1.0
    grid = monthly.unstack().reindex(columns=range(1, 13)) * 100  # (years, 12), in %
    figure, axis = plt.subplots(figsize=(10, max(2.5, 0.35 * len(grid) + 1)))
    limit = max(float(np.nanmax(np.abs(grid.to_numpy()))), 1e-9)
    image = axis.imshow(grid.to_numpy(), cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    axis.set_xticks(range(12), ["J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D"])
    axis.set_yticks(range(len(grid)), grid.index)
    for (row, column), value in np.ndenumerate(grid.to_numpy()):
        if np.isfinite(value):
            axis.text(column, row, f"{value:.1f}", ha="center", va="center", fontsize=7)
    figure.colorbar(image, ax=axis, label="monthly return, %")
    axis.set_title(f"Monthly returns: {name}")
    save_figure(figure, path)


def _plot_rolling_sharpe(path: Path, result: BacktestResult, name: str, periods: float) -> None:
    window = max(int(periods / 2), 2)  # half a year of bars
    returns = result.equity.set_index("timestamp")["return"]
    rolling = returns.rolling(window).mean() / returns.rolling(window).std() * math.sqrt(periods)
    figure, axis = plt.subplots(figsize=(10, 3.5))
    axis.plot(rolling.index, rolling.to_numpy())
    axis.axhline(0.0, color="black", linewidth=0.8)
    axis.set(title=f"Rolling Sharpe ({window} bars): {name}", ylabel="annualised Sharpe")
    axis.grid(alpha=0.3)
    save_figure(figure, path)


def save_figure(figure: plt.Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
