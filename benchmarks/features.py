"""Feature engine speed: batch against TA-Lib and ``ta``, streaming against recomputing.

- ``batch_ms_20y_*``: the indicators TA-Lib has (RSI, MACD, ATR, ADX, Bollinger, fast
  stochastic, OBV, EMA, SMA) over the 5,031 daily S&P 500 bars of the sample (20 years), by our
  kernels, TA-Lib and ``ta``, in one run; the best of several repeats.
- ``stream_us_per_bar_1_symbol``: one :meth:`StreamingEngine.update` (full catalogue, market
  context present) per new bar; the median call (and the fastest, ``*_fastest``).
- ``stream_us_per_symbol_500_symbols``: 500 symbols stepping together through
  :meth:`StreamingEngine.update_many`, per symbol; the median step (and the fastest).
- ``recompute_us_per_bar``: what a naive live service does for each new bar: recompute the
  same indicators with ``ta`` over the last 300 bars. ``speedup_vs_recompute`` divides it by
  our streaming cost for one symbol.

Run with ``python -m benchmarks.features`` or ``tradecast bench features --out FILE.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

TALIB_COLUMNS = ["rsi_14", "macd", "macd_signal", "macd_hist", "atr_14", "adx_14",
                 "bb_upper_20", "bb_lower_20", "stoch_k_14", "stoch_d_14", "obv", "ema_20",
                 "sma_20"]
RECOMPUTE_BARS = 300  # the history a naive service recomputes for every new bar
TARGETS = {"stream_us_per_symbol_500_symbols": 1.0, "stream_us_per_bar_1_symbol": 20.0}


def best_ms(work: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` runs, in milliseconds (the least disturbed by other load)."""
    work()  # warm caches (and compile)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def _our_batch(bars: pd.DataFrame) -> Callable[[], np.ndarray]:
    """Our kernels for the TA-Lib columns only, from numpy arrays (as TA-Lib gets them)."""
    from features.indicators import build_program

    program = build_program(TALIB_COLUMNS)
    columns = {name: bars[name].to_numpy() for name in ("open", "high", "low", "close", "volume")}
    syms = np.zeros(1, dtype=np.int64)

    def work() -> np.ndarray:
        vals = program.new_values(len(bars), 1)  # calendar and context inputs go unread
        for name, column in columns.items():
            vals[program.input_at[name], :, 0] = column
        state, ring = program.new_memory(1)
        return program.run(vals, state, ring, syms)

    return work


def _talib_batch(bars: pd.DataFrame) -> Callable[[], object]:
    import talib

    high, low, close, volume = (bars[n].to_numpy() for n in ("high", "low", "close", "volume"))

    def work() -> object:
        return (talib.RSI(close, 14), talib.MACD(close, 12, 26, 9), talib.ATR(high, low, close, 14),
                talib.ADX(high, low, close, 14), talib.BBANDS(close, 20, 2.0, 2.0, 0),
                talib.STOCHF(high, low, close, 14, 3, 0), talib.OBV(close, volume),
                talib.EMA(close, 20), talib.SMA(close, 20))

    return work


def _ta_batch(bars: pd.DataFrame) -> Callable[[], object]:
    import ta

    def work(frame: pd.DataFrame = bars) -> object:
        high, low, close, volume = (frame[n] for n in ("high", "low", "close", "volume"))
        macd = ta.trend.MACD(close, 26, 12, 9)
        bands = ta.volatility.BollingerBands(close, 20, 2)
        stochastic = ta.momentum.StochasticOscillator(high, low, close, 14, 3)
        return (ta.momentum.RSIIndicator(close, 14).rsi(), macd.macd(), macd.macd_signal(),
                macd.macd_diff(), ta.volatility.AverageTrueRange(high, low, close, 14)
                .average_true_range(), ta.trend.ADXIndicator(high, low, close, 14).adx(),
                bands.bollinger_hband(), bands.bollinger_lband(), stochastic.stoch(),
                stochastic.stoch_signal(), ta.volume.OnBalanceVolumeIndicator(
                    close, volume).on_balance_volume(),
                ta.trend.EMAIndicator(close, 20).ema_indicator(),
                ta.trend.SMAIndicator(close, 20).sma_indicator())

    return work


def _stream_one_symbol(bars: pd.DataFrame, context: pd.DataFrame,
                       steps: int) -> tuple[float, float]:
    """Microseconds per :meth:`update` of one symbol, context bars fed as they come: the median
    call and the fastest."""
    from features.engine import StreamingEngine

    engine = StreamingEngine()
    closes = dict(zip(context["timestamp"], context["close"], strict=True))
    times = []
    for bar in bars.iloc[-steps - 10 :].to_dict("records"):
        if bar["timestamp"] in closes:
            engine.update_context("SPY", bar["timestamp"], closes[bar["timestamp"]])
        start = time.perf_counter()
        engine.update("SPX", bar)
        times.append(time.perf_counter() - start)
    steady = np.array(times[10:])  # the first calls load the compiled kernels
    return float(np.median(steady)) * 1e6, float(steady.min()) * 1e6


def _stream_many_symbols(bars: pd.DataFrame, symbols: int, steps: int) -> tuple[float, float]:
    """Microseconds per symbol when ``symbols`` symbols step together (scaled copies of bars):
    the median step and the fastest (the least disturbed by other work on the machine)."""
    from features.engine import BAR_VALUES, StreamingEngine

    engine = StreamingEngine()
    names = [f"S{i:03d}" for i in range(symbols)]
    scale = np.random.default_rng(0).uniform(0.5, 2.0, size=(symbols, 1))
    values = bars[list(BAR_VALUES)].to_numpy()
    stamps = bars["timestamp"].to_numpy("datetime64[ns]").astype(np.int64)
    times = []
    for t in range(steps):
        step_bars = values[t] * scale
        step_stamps = np.full(symbols, stamps[t])
        start = time.perf_counter()
        engine.update_many(names, step_stamps, step_bars)
        times.append(time.perf_counter() - start)
    steady = np.array(times[steps // 5 :])  # after the first steps grew the symbol tables
    return float(np.median(steady)) / symbols * 1e6, float(steady.min()) / symbols * 1e6


def _recompute_per_bar(bars: pd.DataFrame, repeats: int) -> float:
    """Microseconds to recompute the indicators with ``ta`` over the last 300 bars."""
    tail = bars.iloc[-RECOMPUTE_BARS:].reset_index(drop=True)
    return best_ms(lambda: _ta_batch(tail)(), repeats) * 1e3


def run(out: Path | None = None, quick: bool = False) -> dict:
    """Measure, print a table, write ``out`` (JSON) when given, and return the numbers."""
    from rich.console import Console
    from rich.table import Table

    from contract.home import SAMPLE_DATA_DIR
    from features.engine import compute_features
    from marketdata.csv_import import read_bars_csv

    bars = read_bars_csv(SAMPLE_DATA_DIR / "sp500.csv.gz")
    spy = read_bars_csv(SAMPLE_DATA_DIR / "spy.csv.gz")
    repeats = 3 if quick else 20
    results = {
        "bars": len(bars),
        "batch_ms_20y_ours": best_ms(_our_batch(bars), repeats),
        "batch_ms_20y_talib": best_ms(_talib_batch(bars), repeats),
        "batch_ms_20y_ta": best_ms(_ta_batch(bars), max(2, repeats // 4)),
        "batch_ms_20y_full_catalogue": best_ms(lambda: compute_features(bars, {"SPY": spy}),
                                               max(2, repeats // 4)),
        "recompute_us_per_bar": _recompute_per_bar(bars, repeats),
    }
    (results["stream_us_per_bar_1_symbol"],
     results["stream_us_per_bar_1_symbol_fastest"]) = _stream_one_symbol(
        bars, spy, 300 if quick else 3000)
    (results["stream_us_per_symbol_500_symbols"],
     results["stream_us_per_symbol_500_symbols_fastest"]) = _stream_many_symbols(
        bars, 500, 20 if quick else 200)
    results["batch_ratio_to_talib"] = results["batch_ms_20y_ours"] / results["batch_ms_20y_talib"]
    results["speedup_vs_recompute"] = (results["recompute_us_per_bar"]
                                       / results["stream_us_per_bar_1_symbol"])
    results = {key: round(value, 3) if isinstance(value, float) else value
               for key, value in results.items()}
    results["quick"] = quick

    table = Table("measure", "value", "target", title="feature engine")
    targets = TARGETS | {"batch_ratio_to_talib": 3.0, "speedup_vs_recompute": 100.0}
    for key, value in results.items():
        target = targets.get(key)
        table.add_row(key, str(value), "" if target is None else str(target))
    Console(width=100).print(table)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    run()
