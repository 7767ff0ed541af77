"""The bundled sample universe: real daily and 1-minute bars shipped in ``data/sample/``.

Where each file comes from is told in ``data/sample/README.md``.
"""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from contract.home import SAMPLE_DATA_DIR
from marketdata.csv_import import read_bars_csv
from marketdata.store import BarStore

# (symbol, timeframe) -> file in data/sample/
SAMPLE_FILES: dict[tuple[str, str], str] = {
    ("AAPL", "1d"): "aapl.csv.gz",
    ("GOOG", "1d"): "goog.csv.gz",
    ("INTC", "1d"): "intc.csv.gz",
    ("SPY", "1d"): "spy.csv.gz",
    ("SPX", "1d"): "sp500.csv.gz",
    ("IXIC", "1d"): "nasdaq.csv.gz",
    ("VIX", "1d"): "vix.csv.gz",
    ("SPX", "1min"): "sp500_1min_2019-11.csv.gz",
}


def import_sample(
    store: BarStore, sample_dir: Path = SAMPLE_DATA_DIR, progress: bool = False
) -> dict[str, int]:
    """Import every sample file into ``store``; returns bars added per ``"SYMBOL timeframe"``.

    Importing twice adds nothing the second time (every count is 0).
    """
    added = {}
    for (symbol, timeframe), file_name in tqdm(
        SAMPLE_FILES.items(), desc="importing sample", unit="file", disable=not progress
    ):
        bars = read_bars_csv(sample_dir / file_name)
        added[f"{symbol} {timeframe}"] = store.write(symbol, timeframe, bars)
    return added
