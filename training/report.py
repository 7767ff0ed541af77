"""The fold table of a run: every model and baseline, per validation year and overall."""

from __future__ import annotations

import math

from rich.table import Table

COLUMNS = ("accuracy", "balanced_accuracy", "brier", "ic", "ic_t", "return_mae", "volatility_mae")
HEADERS = ("acc", "bal acc", "Brier", "IC", "IC t", "ret MAE", "vol MAE")


def fold_tables(summary: dict) -> list[Table]:
    """One table per horizon; rows: each fold and `overall`, for each model and baseline."""
    return [_horizon_table(summary, horizon) for horizon in summary["horizons"]]


def _horizon_table(summary: dict, horizon: int) -> Table:
    title = (
        f"{summary['variant']} run {summary['run_id']} ({summary['mode']}, profile "
        f"{summary['profile']}): out-of-sample, {horizon}-bar horizon"
    )
    table = Table(title=title)
    for header in ("year", "model", *HEADERS):
        table.add_column(header, justify="left" if header in ("year", "model") else "right")
    for fold in summary["folds"]:
        for model, metrics in fold["metrics"].items():
            table.add_row(str(fold["validation_year"]), model, *_cells(metrics, horizon))
        table.add_section()
    if len(summary["folds"]) > 1:
        for model, metrics in summary["overall"].items():
            table.add_row("overall", model, *_cells(metrics, horizon))
    return table


def _cells(metrics: dict, horizon: int) -> list[str]:
    cells = []
    for column in COLUMNS:
        value = metrics.get(f"{column}_{horizon}")
        if value is None or (isinstance(value, float) and math.isnan(value)):
            cells.append("-")
        elif column.endswith("mae"):
            cells.append(f"{value:.4f}")
        else:
            cells.append(f"{value:.2f}" if column == "ic_t" else f"{value:.3f}")
    return cells
