"""The bar store: one Parquet file per symbol and timeframe, `<root>/<timeframe>/<SYMBOL>.parquet`.

Writes merge the new bars into what is stored: bars already there are skipped, a bar that
contradicts a stored one (same timestamp, other prices or volume) is refused before anything is
written,
and the file is replaced atomically (a temporary file in the same folder, then ``os.replace``),
so a crash mid-write leaves the old file whole and a write that adds nothing touches nothing.
One writer per file at a time; readers never see a half-written file.

Every stored bar has its ``known_at`` time (:mod:`marketdata.sessions`): the one it came with,
else from the timeframe and the symbol's calendar (:func:`marketdata.sessions.calendar_for`);
a file written before known-at times existed gets them the same way when read.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, unquote

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contract.errors import BarDataError, UnknownSymbolError
from contract.files import atomic_file
from marketdata.bars import PRICE_COLUMNS, check_timeframe, parse_utc, validate_bars
from marketdata.sessions import calendar_for, with_known_at

SUFFIX = ".parquet"


class BarStore:
    """Bars on disk, one Parquet file per symbol and timeframe."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, symbol: str, timeframe: str) -> Path:
        """Where the bars of ``symbol`` at ``timeframe`` live (the file may not exist yet)."""
        # Percent-encoding keeps pair names such as BTC/USD legal and reversible as file names.
        file_name = quote(symbol.upper(), safe="^.-_=") + SUFFIX
        return self.root / check_timeframe(timeframe) / file_name

    def write(self, symbol: str, timeframe: str, bars: pd.DataFrame,
              calendar: str | None = None) -> int:
        """Merge ``bars`` into the store and return how many new bars were added.

        ``calendar`` (default: :func:`~marketdata.sessions.calendar_for` the symbol) dates the
        ends of bars that come without ``known_at``."""
        path = self.path(symbol, timeframe)
        if bars.empty:  # a vendor with nothing new to say
            return 0
        origin = f"{symbol.upper()} {timeframe}"
        calendar = calendar or calendar_for(symbol)
        new = with_known_at(validate_bars(bars, origin), timeframe, calendar)
        if path.exists():
            stored = with_known_at(self._read_file(path), timeframe, calendar)
            _refuse_changed_bars(stored, new, origin)
            unseen = new[~new["timestamp"].isin(stored["timestamp"])]
            merged = validate_bars(pd.concat([stored, unseen], ignore_index=True), origin)
            added = len(unseen)
        else:
            merged, added = new, len(new)
        if added:
            _write_atomically(merged, path)
        return added

    def read(
        self,
        symbol: str,
        timeframe: str = "1d",
        start: str | pd.Timestamp | None = None,
        end: str | pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """The stored bars of ``symbol`` with ``start <= timestamp <= end`` (both optional)."""
        path = self.path(symbol, timeframe)
        if not path.exists():
            known = ", ".join(self.symbols(timeframe)) or "none"
            raise UnknownSymbolError(
                f"no {timeframe} bars for {symbol.upper()} in {self.root} (stored: {known})"
            )
        bars = with_known_at(self._read_file(path), timeframe, calendar_for(symbol))
        if start is not None:
            bars = bars[bars["timestamp"] >= parse_utc(start, "start")]
        if end is not None:
            bars = bars[bars["timestamp"] <= parse_utc(end, "end")]
        return bars.reset_index(drop=True)

    def symbols(self, timeframe: str | None = None) -> list[str]:
        """Stored symbols, sorted; only those with ``timeframe`` bars when it is given."""
        folders = [self.root / check_timeframe(timeframe)] if timeframe else self._folders()
        names = {unquote(p.name[: -len(SUFFIX)]) for f in folders for p in f.glob("*" + SUFFIX)}
        return sorted(names)

    def timeframes(self) -> list[str]:
        """Timeframes that hold at least one symbol."""
        return sorted(folder.name for folder in self._folders() if any(folder.glob("*" + SUFFIX)))

    def summary(self) -> pd.DataFrame:
        """One row per stored file: symbol, timeframe, bars, first and last timestamp."""
        rows = []
        for timeframe in self.timeframes():
            for symbol in self.symbols(timeframe):
                stamps = pq.read_table(self.path(symbol, timeframe), columns=["timestamp"])
                stamps = stamps.column("timestamp").to_pandas()
                rows.append((symbol, timeframe, len(stamps), stamps.min(), stamps.max()))
        return pd.DataFrame(rows, columns=["symbol", "timeframe", "bars", "first", "last"])

    def _folders(self) -> list[Path]:
        if not self.root.exists():
            return []
        return [folder for folder in self.root.iterdir() if folder.is_dir()]

    @staticmethod
    def _read_file(path: Path) -> pd.DataFrame:
        return pq.read_table(path).to_pandas()


def _refuse_changed_bars(stored: pd.DataFrame, new: pd.DataFrame, origin: str) -> None:
    """A stored bar is history: a new bar at the same time must carry the same values."""
    both = new.merge(stored, on="timestamp", suffixes=("", "_stored"))
    for name in (*PRICE_COLUMNS, "volume"):  # not adj_close: vendors revise it after dividends
        changed = both[both[name] != both[f"{name}_stored"]]
        if len(changed):
            bar = changed.iloc[0]
            raise BarDataError(
                f"{origin}: the new bar at {bar['timestamp']} has {name} {bar[name]:g} but the "
                f"stored one has {bar[name + '_stored']:g} ({len(changed)} such bars); "
                "stored bars are never overwritten"
            )


def _write_atomically(bars: pd.DataFrame, path: Path) -> None:
    """Write ``bars`` to ``path`` through a temporary file in the same folder and a rename."""
    table = pa.Table.from_pandas(bars, preserve_index=False)
    with atomic_file(path) as sink:
        pq.write_table(table, sink)
