"""Batch signals past one machine: local vs Ray on this machine's CPUs, and a scaling estimate.

Measured in one run, on one scratch home (the sample's daily series, each copied ``copies``
times under other names so there are enough tasks to spread), signalling the last
``signal_years`` of each series (the features still run over the whole history):

- ``local_windows_per_s``: `serving.batch.generate_signals` in this process (one core, one
  onnxruntime thread): features, windows, model and signal rule, everything a signal costs.
- ``feature_us_per_bar``: `compute_features` alone over the same series, per bar; and
  ``model_us_per_window``: the rest of the local run, per window signalled. A 20-year run
  signals every bar, so one signal costs ``per_window_us`` = the sum of the two.
- ``ray_windows_per_s``: `scaleout.signals.generate_signals_ray` on a local Ray with ``cpus``
  CPUs (one actor per CPU), its start-up (actors loading the models) included; ``ray_speedup``
  divides it by the local rate, ``ray_efficiency`` by ``cpus`` times the local rate.
- ``ray_task_overhead_s``: what Ray Data itself costs per task (a batch of symbols): a pipeline
  of the same symbols whose actors do nothing, run with one task per actor and with one task
  per symbol; the difference per extra task (times the actors running them at once).
  ``ray_startup_s``: that pipeline's wall time with one task per actor, the fixed cost of a run
  (actors loading the models come on top; they are in ``ray_s``).
- ``estimate``: ``per_window_s`` (the local cost of one signal) x windows, spread over
  ``nodes`` x ``node_cores`` cores, plus the tasks' overhead and the start-up, for 5,000
  symbols x 20 years of daily bars.

Run with ``tradecast bench scale --out FILE.json`` (needs the `tradecast[ray]` extra).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from contract.home import resolve_home
from marketdata.sample import import_sample
from marketdata.store import BarStore

TRADING_DAYS = 252  # daily bars per year
SAMPLE_DAILY = ("AAPL", "GOOG", "INTC", "SPY", "SPX", "IXIC")  # VIX is context, not a symbol


@dataclass(frozen=True)
class ScaleConfig:
    cpus: int = 2  # CPUs of the local Ray
    copies: int = 2  # copies of each sample series (more symbols, more tasks)
    signal_years: int = 3  # years signalled at the end of each series (keeps the run short)
    symbols_per_task: int = 4  # symbols per Ray actor call
    variant: str = "hybrid"  # the model that signals (fresh weights: speed is the same)
    target_symbols: int = 5000  # the estimate's universe
    target_years: int = 20  # the estimate's history per symbol
    node_cores: int = 16  # cores per node in the estimate
    nodes: tuple[int, ...] = (1, 4, 16, 64)  # cluster sizes in the estimate


class IdleActor:
    """An actor that returns its batch: what a Ray Data pipeline costs without any work."""

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return batch


def scratch_home(root: Path, config: ScaleConfig) -> list[str]:
    """Sample bars (each daily series ``copies`` times) and a fresh export; the symbols."""
    from training.export import export_untrained

    home = resolve_home(root)
    store = BarStore(home.bars_dir)
    import_sample(store)
    symbols = []
    for name in SAMPLE_DAILY:
        bars = store.read(name, "1d")
        for copy in range(config.copies):
            symbol = name if copy == 0 else f"{name}.C{copy}"
            if copy:
                store.write(symbol, "1d", bars)
            symbols.append(symbol)
    export_untrained(config.variant, home.exported_dir)  # speed only: random weights, said so
    return symbols


def feature_seconds(home: Path, symbols: list[str]) -> tuple[float, int]:
    """(seconds, bars) of `compute_features` over every symbol's whole history, with context."""
    from features.engine import compute_features
    from serving.batch import MARKET_CONTEXT, context_bars

    store = BarStore(resolve_home(home).bars_dir)
    market = context_bars(store, MARKET_CONTEXT)
    seconds, bars = 0.0, 0
    for symbol in symbols:
        frame = store.read(symbol, "1d")
        started = time.perf_counter()
        compute_features(frame, market)
        seconds += time.perf_counter() - started
        bars += len(frame)
    return seconds, bars


def idle_pipeline_seconds(symbols: list[str], tasks: int, actors: int) -> float:
    """Wall time of a Ray Data pipeline over ``symbols`` in ``tasks`` blocks whose ``actors``
    actors do nothing."""
    import ray

    started = time.perf_counter()
    dataset = ray.data.from_items([{"symbol": s} for s in symbols], override_num_blocks=tasks)
    dataset.map_batches(IdleActor, batch_size=math.ceil(len(symbols) / tasks),
                        batch_format="pandas", compute=ray.data.ActorPoolStrategy(size=actors),
                        num_cpus=1).materialize()
    return time.perf_counter() - started


def ray_overhead(symbols: list[str], config: ScaleConfig) -> tuple[float, float]:
    """(seconds per task, fixed seconds per run) of Ray Data itself: the same idle pipeline
    with one task per actor and with one task per symbol; the difference is the extra tasks'."""
    few, many = config.cpus, len(symbols)
    idle_pipeline_seconds(symbols, few, config.cpus)  # Ray's own first-use costs, not counted
    fixed = idle_pipeline_seconds(symbols, few, config.cpus)
    wall = idle_pipeline_seconds(symbols, many, config.cpus)
    return (wall - fixed) * config.cpus / (many - few), fixed  # below 0: under the noise


def estimate(per_window_s: float, task_overhead_s: float, startup_s: float,
             config: ScaleConfig) -> dict:
    """Hours for target_symbols x target_years of daily signals on each cluster size."""
    windows = config.target_symbols * config.target_years * TRADING_DAYS
    tasks = math.ceil(config.target_symbols / config.symbols_per_task)
    rows = {}
    for nodes in config.nodes:
        cores = nodes * config.node_cores
        # Symbols are the unit of work: fewer symbols than cores leaves cores idle.
        busy = min(cores, config.target_symbols)
        seconds = (windows * per_window_s + tasks * max(0.0, task_overhead_s)) / busy + startup_s
        rows[f"{nodes}_nodes"] = {"cores": cores, "hours": seconds / 3600,
                                  "core_hours": windows * per_window_s / 3600}
    return {"windows": windows, "tasks": tasks, "by_cluster": rows}


def run(out: Path | None, config: ScaleConfig = ScaleConfig()) -> dict:
    """Measure local and Ray batch signals side by side; print and optionally write JSON."""
    import ray

    from scaleout.signals import generate_signals_ray
    from serving.batch import generate_signals

    with tempfile.TemporaryDirectory(prefix="tradecast-scale-") as scratch:
        root = Path(scratch)
        symbols = scratch_home(root / "home", config)
        last = BarStore(resolve_home(root / "home").bars_dir).read("SPY", "1d")["timestamp"].max()
        start = (last - pd.DateOffset(years=config.signal_years)).tz_convert(None).to_pydatetime()
        features_s, bars = feature_seconds(root / "home", symbols)
        started = time.perf_counter()
        local = generate_signals(root / "home", root / "local.parquet", symbols=symbols,
                                 start=start, variant=config.variant)
        local_s = time.perf_counter() - started
        ray.init(address="local", num_cpus=config.cpus, include_dashboard=False)
        try:
            task_overhead_s, startup_s = ray_overhead(symbols, config)
            started = time.perf_counter()
            on_ray = generate_signals_ray(root / "home", root / "ray", symbols=symbols,
                                          start=start, variant=config.variant, actors=config.cpus,
                                          symbols_per_task=config.symbols_per_task)
            ray_s = time.perf_counter() - started
        finally:
            ray.shutdown()
    if on_ray.rows != len(local):
        raise RuntimeError(f"Ray wrote {on_ray.rows} signals, the local run {len(local)}")
    windows, tasks = len(local), math.ceil(len(symbols) / config.symbols_per_task)
    per_window_s = features_s / bars + (local_s - features_s) / windows
    results = {
        "config": asdict(config), "symbols": len(symbols), "windows": windows, "tasks": tasks,
        "local_s": local_s, "ray_s": ray_s,
        "local_windows_per_s": windows / local_s, "ray_windows_per_s": windows / ray_s,
        "ray_speedup": local_s / ray_s, "ray_efficiency": local_s / ray_s / config.cpus,
        "feature_us_per_bar": features_s / bars * 1e6,
        "model_us_per_window": (local_s - features_s) / windows * 1e6,
        "per_window_us": per_window_s * 1e6, "ray_task_overhead_s": task_overhead_s,
        "ray_startup_s": startup_s,
        "estimate": estimate(per_window_s, task_overhead_s, startup_s, config),
    }
    print(report(results))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
    return results


def report(results: dict) -> str:
    """The numbers as a few lines of text."""
    config, plan = results["config"], results["estimate"]
    lines = [
        f"{results['symbols']} symbols, {results['windows']} windows, {results['tasks']} tasks "
        f"of {config['symbols_per_task']} symbols ({config['variant']}, one onnxruntime thread)",
        f"local: {results['local_windows_per_s']:.0f} windows/s; one signal of a full history: "
        f"{results['per_window_us']:.0f} us ({results['feature_us_per_bar']:.0f} us features + "
        f"{results['model_us_per_window']:.0f} us model and rule)",
        f"ray on {config['cpus']} CPUs: {results['ray_windows_per_s']:.0f} windows/s = "
        f"{results['ray_speedup']:.2f}x local ({results['ray_efficiency']:.0%} of "
        f"{config['cpus']}x), start-up included",
        f"ray overhead: {results['ray_task_overhead_s'] * 1e3:.0f} ms per task"
        f"{' (under the noise of this run)' if results['ray_task_overhead_s'] <= 0 else ''}, "
        f"{results['ray_startup_s']:.1f} s per run",
        f"estimate, {config['target_symbols']} symbols x {config['target_years']} years = "
        f"{plan['windows']:,} windows ({next(iter(plan['by_cluster'].values()))['core_hours']:.1f}"
        f" core-hours):",
    ]
    lines += [f"  {name.replace('_', ' ')} x {config['node_cores']} cores: {row['hours']:.2f} h"
              for name, row in plan["by_cluster"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    run(None)
