"""Read what the CLI writes in the home folder, shaped for the pages (and downsampled).

Training runs (`checkpoints/<variant>/<run>/`: summary.json, metrics.jsonl), backtests
(`backtests/<id>/`: metrics.json, equity.csv, trades.csv as `tradecast backtest` writes them)
and the bar store. Serving may not import the backtest or training packages, so their files are
the interface.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from contract.errors import UnknownSymbolError
from contract.home import Home
from contract.runs import METRICS_LOG, SUMMARY_FILE, run_folders
from marketdata.quality import check_store
from marketdata.store import BarStore
from serving.dashboard.paths import backtests_dir, checked_name, child
from serving.dashboard.portfolio import downsample, unix_seconds
from serving.errors import InputError

MAX_POINTS = 1500  # points per chart line sent to the browser
MAX_TRADES = 500  # rows of the trades table


def finite(value: object) -> object:
    """JSON has no NaN: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def clean(data: object) -> object:
    if isinstance(data, dict):
        return {key: clean(value) for key, value in data.items()}
    if isinstance(data, list):
        return [clean(value) for value in data]
    return finite(data)


# -- the bar store ---------------------------------------------------------------------------

def store_listing(home: Home) -> list[dict]:
    summary = BarStore(home.bars_dir).summary()
    return [
        {"symbol": row.symbol, "timeframe": row.timeframe, "bars": int(row.bars),
         "first": row.first.isoformat(), "last": row.last.isoformat()}
        for row in summary.itertuples()
    ]


def quality(home: Home, symbol: str, timeframe: str) -> dict:
    report = check_store(BarStore(home.bars_dir), [checked_name(symbol, "symbol")], timeframe)[0]
    return {
        "symbol": report.symbol, "timeframe": report.timeframe, "calendar": report.calendar,
        "bars": report.bars, "ok": report.ok, "counts": report.counts(), "text": report.text(),
        "issues": [
            {"kind": i.kind, "severity": i.severity, "detail": i.detail,
             "timestamp": i.timestamp.isoformat() if i.timestamp is not None else None}
            for i in report.issues[:200]
        ],
    }


def candles(home: Home, symbol: str, timeframe: str = "1d", start: str | None = None,
            end: str | None = None, max_points: int = 5000) -> list[dict]:
    """OHLC bars for a candle chart (the last ``max_points`` of the span)."""
    bars = BarStore(home.bars_dir).read(checked_name(symbol, "symbol"), timeframe)
    if start:
        bars = bars[bars["timestamp"] >= utc_time(start, "start")]
    if end:
        bars = bars[bars["timestamp"] <= utc_time(end, "end")]
    bars = bars.tail(max_points)
    seconds = unix_seconds(bars["timestamp"])
    values = bars[["open", "high", "low", "close"]].to_numpy()
    return [{"time": int(t), "open": o, "high": h, "low": lo, "close": c}
            for t, (o, h, lo, c) in zip(seconds, values.tolist(), strict=True)]


def utc_time(text: str, field: str) -> pd.Timestamp:
    """A date or time from the browser, in UTC (no zone given: UTC)."""
    try:
        stamp = pd.Timestamp(text)
    except ValueError as bad:
        raise InputError(field, f"{text!r} is not a date or time") from bad
    if stamp is pd.NaT:
        raise InputError(field, f"{text!r} is not a date or time")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


# -- training runs ---------------------------------------------------------------------------

def list_runs(home: Home) -> list[dict]:
    runs = []
    for folder in run_folders(home.checkpoints_dir):
        summary = read_json(folder / SUMMARY_FILE)
        runs.append(clean({
            "variant": folder.parent.name, "run": folder.name,
            "finished": bool(summary), "profile": summary.get("profile"),
            "mode": summary.get("mode"), "created_at": summary.get("created_at"),
            "metrics": summary.get("metrics"), "seconds": summary.get("seconds"),
        }))
    return sorted(runs, key=lambda run: run["run"], reverse=True)


def run_folder(home: Home, variant: str, run: str) -> Path:
    variant_dir = child(home.checkpoints_dir, variant, "variant", "variant with runs")
    return child(variant_dir, run, "run", "run")


def run_detail(home: Home, variant: str, run: str) -> dict:
    folder = run_folder(home, variant, run)
    summary = read_json(folder / SUMMARY_FILE)
    return clean({
        "variant": variant, "run": run, "finished": bool(summary),
        "summary": {key: summary.get(key) for key in (
            "profile", "mode", "symbols", "training_span", "validation_span", "metrics",
            "baselines", "overall", "seconds", "leak_warnings", "n_features")},
        "folds": fold_rows(summary), "metrics": metric_lines(folder / METRICS_LOG),
    })


def fold_rows(summary: dict) -> list[dict]:
    """The walk-forward fold table: one row per fold and model (the variant, then baselines)."""
    rows = []
    for fold in summary.get("folds") or []:
        for model, metrics in (fold.get("metrics") or {}).items():  # the variant and baselines
            rows.append({"fold": fold.get("validation_year", fold.get("fold")), "model": model,
                         **{k: v for k, v in metrics.items() if isinstance(v, int | float)}})
    return rows


def metric_lines(path: Path, skip: int = 0) -> list[dict]:
    """metrics.jsonl's whole lines from line ``skip`` on (a line being written is left out)."""
    if not path.exists():
        return []
    lines = []
    for line in path.read_text().split("\n")[skip:]:
        try:
            lines.append(clean(json.loads(line)))
        except json.JSONDecodeError:
            break
    return lines


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


# -- backtests -------------------------------------------------------------------------------

def list_backtests(home: Home) -> list[dict]:
    root = backtests_dir(home)
    if not root.exists():
        return []
    found = []
    for folder in sorted(root.iterdir(), reverse=True):
        metrics = read_json(folder / "metrics.json")
        if metrics:
            main = metrics.get("main")
            found.append(clean({"id": folder.name, "main": main,
                                "metrics": (metrics.get("comparison") or {}).get(main)}))
    return found


def backtest_detail(home: Home, identifier: str) -> dict:
    folder = child(backtests_dir(home), identifier, "backtest", "backtest")
    metrics = read_json(folder / "metrics.json")
    if not metrics or not (folder / "equity.csv").exists():  # still running, or it failed
        raise UnknownSymbolError(f"backtest: {identifier!r} has no results (yet)")
    equity = pd.read_csv(folder / "equity.csv", parse_dates=["timestamp"])
    equity["timestamp"] = pd.to_datetime(equity["timestamp"], utc=True)
    index = pd.DatetimeIndex(equity["timestamp"])
    trades = pd.read_csv(folder / "trades.csv") if (folder / "trades.csv").exists() else None
    curves = {"equity": downsample(index, equity["equity"].to_numpy(), MAX_POINTS),
              "drawdown": downsample(index, equity["drawdown"].to_numpy(), MAX_POINTS)}
    if "buy_and_hold_equity" in equity:
        curves["buy_and_hold"] = downsample(index, equity["buy_and_hold_equity"].to_numpy(),
                                            MAX_POINTS)
    return clean({
        "id": identifier, "main": metrics.get("main"),
        "comparison": metrics.get("comparison") or {},
        "curves": curves, "monthly_returns": monthly_returns(index, equity["equity"].to_numpy()),
        "trades": trade_rows(trades), "trade_count": 0 if trades is None else len(trades),
        "symbols": [] if trades is None else sorted(trades["symbol"].astype(str).unique()),
        "span": [index[0].isoformat(), index[-1].isoformat()] if len(index) else None,
    })


def monthly_returns(index: pd.DatetimeIndex, equity: np.ndarray) -> list[dict]:
    """Calendar-month returns of an equity curve: year, month (1-12), return."""
    if len(index) == 0:
        return []
    series = pd.Series(equity, index=index.tz_convert("UTC").tz_localize(None))
    month_end = series.resample("ME").last().dropna()
    before = pd.concat([pd.Series([equity[0]]), month_end.iloc[:-1].reset_index(drop=True)])
    returns = month_end.to_numpy() / before.to_numpy() - 1.0
    return [{"year": stamp.year, "month": stamp.month, "return": float(value)}
            for stamp, value in zip(month_end.index, returns, strict=True)]


def trade_rows(trades: pd.DataFrame | None) -> list[dict]:
    if trades is None or trades.empty:
        return []
    shown = trades.tail(MAX_TRADES).copy()
    shown["time"] = unix_seconds(pd.to_datetime(shown["timestamp"], utc=True))
    return shown.to_dict(orient="records")
