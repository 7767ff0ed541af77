"""The walk-forward report: skill, calibration, significance and the backtest on one page.

`write_walk_forward_page` writes `report.md` (markdown, the PNGs beside it), `skill.json` (every
number on the page) and the plots: `reliability_<h>.png`, `deciles_returns.png`,
`deciles_volatility.png` and `intervals.png`. `tradecast backtest --walk-forward` and
`tradecast train report` both write it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from backtest.report import json_ready
from backtest.runner import BUY_AND_HOLD, Comparison
from backtest.signals import load_bars
from backtest.simulator import BacktestConfig
from backtest.skill import IC_NO_EDGE, NO_EDGE, ModelSkill, SharpeEdge, all_skill, sharpe_edges
from backtest.skill_plots import plot_deciles, plot_intervals, plot_reliability
from backtest.walk_forward import (
    fold_calibrations,
    prediction_horizons,
    raw_variant_predictions,
    read_predictions,
    run_walk_forward,
    with_combined,
)
from contract.errors import ArtifactError
from contract.model import COMBINED
from contract.runs import PREDICTIONS_FILE
from contract.walk_forward import BASELINES
from features.bootstrap import LEVEL, RESAMPLES, SHARPE_BLOCK, Interval
from features.skill import LEAK_ACCURACY, LEAK_IC
from policy.signal_rule import SignalRuleConfig

PAGE = "report.md"
NUMBERS = "skill.json"


def walk_forward_report(
    predictions: pd.DataFrame,
    bars: dict[str, pd.DataFrame],
    out_dir: Path,
    variant: str,
    *,
    config: BacktestConfig | None = None,
    rule: SignalRuleConfig | None = None,
    runs: Mapping[str, Path] | None = None,
    progress: bool = False,
) -> tuple[Comparison, Path]:
    """Backtest every model of `predictions` and write the one-page report beside it.

    `runs` (variant -> run folder the predictions came from) lets the page compare each
    variant's calibrated rows with its raw fold predictions and list its calibrations.
    """
    comparison = run_walk_forward(predictions, bars, out_dir, variant, config=config, rule=rule,
                                  progress=progress)
    scored = with_combined(predictions) if variant == COMBINED else predictions
    runs = dict(runs or {})
    page = write_walk_forward_page(
        out_dir, predictions=scored, bars=bars, comparison=comparison,
        raw=raw_variant_predictions(runs), runs=runs,
        calibrations={name: fold_calibrations(path) for name, path in runs.items()},
    )
    return comparison, page


def report_run(run_dir: Path, bars_dir: Path, out_dir: Path, timeframe: str = "1d") -> Path:
    """The page of one walk-forward run folder: its variant and baselines, default costs."""
    predictions = read_predictions(run_dir / PREDICTIONS_FILE)
    variants = sorted(set(predictions["model"]) - set(BASELINES))
    if len(variants) != 1:
        raise ArtifactError(f"{run_dir / PREDICTIONS_FILE}: expected one variant, found "
                            f"{variants or 'none'}")
    bars = load_bars(sorted(predictions["symbol"].unique()), bars_dir=bars_dir,
                     timeframe=timeframe)
    return walk_forward_report(predictions, bars, out_dir, variants[0],
                               runs={variants[0]: run_dir})[1]


def write_walk_forward_page(
    out_dir: Path,
    *,
    predictions: pd.DataFrame,
    bars: Mapping[str, pd.DataFrame],
    comparison: Comparison,
    raw: pd.DataFrame | None = None,
    runs: Mapping[str, Path] | None = None,
    calibrations: Mapping[str, list[dict]] | None = None,
) -> Path:
    """Score every model of `predictions`, draw the plots, write the page; returns its path.

    `raw` (uncalibrated variant rows) adds the Brier score before calibration; `runs` and
    `calibrations` (per variant: each fold's fitted maps) say where the predictions came from.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    horizons = prediction_horizons(predictions)
    skills = all_skill(predictions, bars, raw)
    edges = sharpe_edges(comparison.returns, comparison.periods_per_year, BUY_AND_HOLD)
    for h in horizons:
        plot_reliability(out_dir / f"reliability_{h}.png", _probabilistic(skills), h)
    plot_deciles(out_dir / "deciles_returns.png", skills, horizons, "returns")
    plot_deciles(out_dir / "deciles_volatility.png", skills, horizons, "volatility")
    plot_intervals(out_dir / "intervals.png", edges,
                   {name: skill.ic for name, skill in skills.items()}, horizons)

    lines = _header(predictions, runs or {}, horizons)
    lines += _leak_section(skills)
    lines += _skill_section(skills, horizons)
    lines += _calibration_section(skills, calibrations or {}, horizons)
    lines += _backtest_section(comparison, edges)
    page = out_dir / PAGE
    page.write_text("\n".join(lines) + "\n")
    numbers = {
        "models": {name: {"metrics": s.metrics, "raw_brier": s.raw_brier, "warnings": s.warnings,
                          "ic": {str(h): i.to_dict() for h, i in s.ic.items()}}
                   for name, s in skills.items()},
        "sharpe_vs_buy_and_hold": {name: {"sharpe": e.sharpe, **e.difference.to_dict(),
                                          "verdict": e.verdict} for name, e in edges.items()},
        "calibration": dict(calibrations or {}),
    }
    (out_dir / NUMBERS).write_text(json.dumps(json_ready(numbers), indent=2) + "\n")
    return page


def _probabilistic(skills: Mapping[str, ModelSkill]) -> dict[str, ModelSkill]:
    """Models whose direction calls are probabilities (always-up and momentum give 0 or 1)."""
    return {name: s for name, s in skills.items() if name not in ("always_up", "momentum")}


def _header(predictions: pd.DataFrame, runs: Mapping[str, Path], horizons) -> list[str]:
    stamps = pd.to_datetime(predictions["timestamp"], utc=True)
    lines = [
        "# Walk-forward report",
        "",
        f"Out of sample, every fold pooled: {stamps.min():%Y-%m-%d} .. {stamps.max():%Y-%m-%d}, "
        f"{predictions['fold'].nunique()} folds, symbols "
        f"{', '.join(sorted(predictions['symbol'].unique()))}, horizons "
        f"{', '.join(map(str, horizons))} bars.",
    ]
    if runs:
        lines += ["", "Runs: " + ", ".join(f"`{name}` {path.name}" for name, path in runs.items())
                  + "."]
    lines += [
        "",
        f"Intervals are {LEVEL:.0%} stationary block-bootstrap intervals ({RESAMPLES} resamples; "
        f"mean block {SHARPE_BLOCK} bars for daily returns, max(2h, 10) bars for h-bar ICs; "
        "an IC's t is its estimate over the bootstrap standard error). "
        "A model whose interval covers zero is "
        f"**{NO_EDGE}** (Sharpe) or **{IC_NO_EDGE}** (IC).",
        "",
    ]
    return lines


def _leak_section(skills: Mapping[str, ModelSkill]) -> list[str]:
    lines = ["## Leak alarm", ""]
    flagged = [(name, w) for name, s in skills.items() for w in s.warnings]
    if not flagged:
        lines.append(f"No model reaches a 1-bar accuracy above {LEAK_ACCURACY} or a rank IC above "
                     f"{LEAK_IC}: nothing looks like a look-ahead leak.")
    for name, warning in flagged:
        lines.append(f"- **PROBABLE LEAK, not a success** — `{name}`: {warning}")
    return [*lines, ""]


def _skill_section(skills: Mapping[str, ModelSkill], horizons) -> list[str]:
    slash = " / ".join(map(str, horizons))
    header = (f"| model | bal. acc {slash} | acc {slash} | Brier {slash} | "
              + " | ".join(f"rank IC {h} (t) [interval]" for h in horizons) + " |")
    lines = ["## Prediction quality", "", header,
             "|" + " --- |" * (4 + len(horizons))]
    for name, s in skills.items():
        cells = [
            name,
            _joined(s.metrics, "balanced_accuracy", horizons, "{:.3f}"),
            _joined(s.metrics, "accuracy", horizons, "{:.3f}"),
            _joined(s.metrics, "brier", horizons, "{:.3f}"),
            *(_interval_cell(s.ic[h], "{:.3f}", with_t=True) for h in horizons),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    zero = [name for name, s in skills.items()
            if all(s.ic[h].covers_zero for h in horizons)]
    lines += ["", f"Rank IC {IC_NO_EDGE} at every horizon: {', '.join(zero) or 'none'}.", "",
              "Brier score: three classes (down / flat / up), 0 is perfect; a certain call "
              "(always-up, momentum) scores about 1. Reliability of P(up) per horizon:", ""]
    lines += [" ".join(f"![reliability {h}](reliability_{h}.png)" for h in horizons), "",
              "Predicted against realised, by decile of the prediction (a forecast worth its "
              "numbers climbs the diagonal):", "",
              "![return deciles](deciles_returns.png)", "",
              "![volatility deciles](deciles_volatility.png)", ""]
    return lines


def _calibration_section(
    skills: Mapping[str, ModelSkill], calibrations: Mapping[str, list[dict]], horizons
) -> list[str]:
    lines = ["## Calibration", "",
             "Fitted per fold on the model's predictions for training windows only (temperature "
             "for direction, a scale for returns, a line for volatility), each map kept only if "
             "it lowered the error on the newest 30 % of those windows. The backtest and "
             "serving use the calibrated outputs.", ""]
    variants = [name for name, s in skills.items() if s.raw_brier]
    if variants:
        lines += ["| variant | " + " | ".join(f"Brier {h} raw → calibrated" for h in horizons)
                  + " | folds keeping a temperature / return scale / volatility line |",
                  "|" + " --- |" * (2 + len(horizons))]
        for name in variants:
            s = skills[name]
            cells = [f"{s.raw_brier[h]:.4f} → {s.metrics[f'brier_{h}']:.4f}" for h in horizons]
            kept = _kept(calibrations.get(name))
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {kept} |")
    else:
        lines.append("No uncalibrated fold predictions found: the rows are scored as saved.")
    return [*lines, ""]


def _kept(folds: list[dict] | None) -> str:
    fitted = [f["calibration"] for f in folds or [] if f.get("calibration")]
    if not fitted:
        return "–"
    temperature = sum(any(t != 1.0 for t in c["temperature"]) for c in fitted)
    scale = sum(any(b != 1.0 for b in c["return_scale"]) for c in fitted)
    line = sum(any(b != 1.0 for b in c["volatility_slope"]) for c in fitted)
    return f"{temperature} / {scale} / {line} of {len(fitted)}"


def _backtest_section(comparison: Comparison, edges: Mapping[str, SharpeEdge]) -> list[str]:
    table = comparison.table
    lines = ["## Backtest, net of costs", "",
             "| run | total return | annual return | Sharpe | Sharpe − buy-and-hold [interval] | "
             "verdict | max drawdown | turnover / yr | trades | costs (of capital) |",
             "|" + " --- |" * 10]
    for name, row in table.iterrows():
        edge = edges.get(name)
        difference = _interval_cell(edge.difference, "{:+.2f}") if edge else "–"
        verdict = edge.verdict if edge else "the baseline"
        lines.append(
            f"| {name} | {row['total_return']:.3f} | {row['annual_return']:.3f} | "
            f"{row['sharpe']:.2f} | {difference} | {verdict} | {row['max_drawdown']:.3f} | "
            f"{row['turnover']:.1f} | {int(row['trades'])} | {row['costs_fraction']:.3f} |"
        )
    lines += ["", "![intervals](intervals.png)", "",
              "Equity, drawdown, monthly returns and rolling Sharpe of "
              f"`{comparison.main}`: `equity.png`, `drawdown.png`, `monthly_returns.png`, "
              "`rolling_sharpe.png`; every run: `comparison.png`."]
    return lines


def _joined(metrics: Mapping[str, float], name: str, horizons, form: str) -> str:
    return " / ".join(_number(metrics.get(f"{name}_{h}"), form) for h in horizons)


def _interval_cell(interval: Interval, form: str, with_t: bool = False) -> str:
    if not math.isfinite(interval.estimate):
        return "–"
    if not math.isfinite(interval.low):
        return _number(interval.estimate, form)
    mark = "" if interval.covers_zero else " **≠ 0**"
    t = f" ({interval.t:.1f})" if with_t and math.isfinite(interval.t) else ""
    return (f"{_number(interval.estimate, form)}{t} [{_number(interval.low, form)}, "
            f"{_number(interval.high, form)}]{mark}")


def _number(value: float | None, form: str) -> str:
    return "–" if value is None or not math.isfinite(value) else form.format(value)
