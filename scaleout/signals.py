"""`tradecast signals --engine ray`: batch signals with Ray Data, over the local path's functions.

Symbols are rows of a Ray dataset, partitioned into batches of ``symbols_per_task``; each batch
goes to one actor of a pool (`map_batches` with a class), and every actor holds the serving
predictor (`serving.forecasting.Forecaster` over onnxruntime, one intra-op thread) and calls
`serving.batch.symbols_signals`, the function the local run calls: the same features (computed
from each symbol's whole history, so the kernels are warm), windows, model runs and signal rule.
The output is a Parquet dataset (a folder, one file per block), rows sorted by symbol and time
within each file.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow.dataset as pads

from contract.errors import ArtifactError, BarDataError
from contract.home import resolve_home
from marketdata.store import BarStore
from scaleout.cluster import cluster_cpus, connect
from serving.batch import MARKET_CONTEXT, context_bars, symbol_sectors, symbols_signals
from serving.config import ServingConfig
from serving.forecasting import Forecaster
from serving.registry import ModelRegistry

SYMBOLS_PER_TASK = 16  # symbols in one actor call: big enough to fill the model's batches


@dataclass(frozen=True)
class RaySignalsResult:
    out: Path  # the Parquet dataset folder
    rows: int  # signals written
    symbols: int  # symbols with at least one signal


class SignalActor:
    """One Ray actor: the serving predictor loaded once, then signals for batches of symbols."""

    def __init__(self, home: str, variant: str, start: datetime | None,
                 config: ServingConfig) -> None:
        resolved = resolve_home(home)
        self.store = BarStore(resolved.bars_dir)
        self.forecaster = Forecaster(  # one CPU per actor: one thread, one model run at a time
            ModelRegistry(resolved.exported_dir, intra_op_threads=1), replace(config, model_lanes=1)
        )
        self.market = context_bars(self.store, MARKET_CONTEXT)
        self.variant, self.start = variant, start

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        sectors = {symbol: sector if isinstance(sector, str) else None
                   for symbol, sector in zip(batch["symbol"], batch["sector"], strict=True)}
        frames = symbols_signals(self.forecaster, self.store, sectors, self.variant, self.start,
                                 self.market, progress=False)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def generate_signals_ray(
    home: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    symbols: list[str] | None = None,
    universe: str | None = None,
    start: datetime | None = None,
    variant: str = "hybrid",
    *,
    actors: int | None = None,
    symbols_per_task: int | None = None,
    config: ServingConfig | None = None,
) -> RaySignalsResult:
    """`serving.batch.generate_signals` on Ray: one actor per CPU by default (``actors``),
    ``symbols_per_task`` symbols per actor call (default SYMBOLS_PER_TASK)."""
    import ray

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        # Ray adds its files next to whatever is there: an old run's rows would mix in.
        raise ArtifactError(f"{out}: not empty; signals on Ray write a new folder")
    connect()
    symbols_per_task = symbols_per_task or SYMBOLS_PER_TASK
    sectors = symbol_sectors(symbols, universe)
    items = [{"symbol": symbol, "sector": sector or ""} for symbol, sector in sectors.items()]
    tasks = max(1, math.ceil(len(items) / symbols_per_task))
    dataset = ray.data.from_items(items, override_num_blocks=tasks)
    signals = dataset.map_batches(
        SignalActor,
        fn_constructor_kwargs={"home": str(resolve_home(home).root), "variant": variant,
                               "start": start, "config": config or ServingConfig()},
        batch_size=symbols_per_task, batch_format="pandas", num_cpus=1,
        compute=ray.data.ActorPoolStrategy(size=actors or min(cluster_cpus(), tasks)),
    )
    signals.write_parquet(str(out))
    written = pads.dataset(out, format="parquet") if out.exists() else None
    table = written.to_table(columns=["symbol"]) if written else None
    if table is None or table.num_rows == 0:
        since = f" since {start:%Y-%m-%d}" if start else ""
        raise BarDataError(f"no bar with a full warm window{since} for {', '.join(sectors)}")
    return RaySignalsResult(out, table.num_rows, len(set(table.column("symbol").to_pylist())))
