"""Universes: named lists of symbols kept as small TOML files in ``configs/universes/``.

An entry may carry a ``start`` and an ``end`` date: a delisted stock keeps its place in the
universe with the last day it traded, so that history is not rewritten by the survivors.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from contract.errors import BarDataError, UnknownSymbolError
from contract.home import CONFIG_DIR

UNIVERSE_DIR = CONFIG_DIR / "universes"

SECTOR_ETFS = ("XLK", "XLF", "XLV", "XLE", "XLI", "XLY", "XLP", "XLU", "XLB", "XLRE", "XLC")
ASSET_CLASSES = ("stock", "crypto", "context")


@dataclass(frozen=True)
class UniverseEntry:
    symbol: str  # the store's name for it (upper case; pairs as BASE/QUOTE)
    sector_etf: str | None = None  # SPDR sector ETF of the stock's sector, None if not a stock
    start: dt.date | None = None  # first trading day when it started inside our history
    end: dt.date | None = None  # last trading day of a delisted symbol; None while it trades

    def active_on(self, day: dt.date) -> bool:
        """Whether the symbol traded on ``day``."""
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Universe:
    name: str  # the file name without .toml
    description: str  # one line for `tradecast data list`
    asset_class: str  # "stock" (exchange calendar), "crypto" (24/7) or "context"
    source: str  # the data source that `tradecast data fetch --universe` uses by default
    timeframe: str  # the bar length the universe is meant for
    entries: tuple[UniverseEntry, ...]  # the members, in file order

    @property
    def symbols(self) -> list[str]:
        """Every member, delisted ones included."""
        return [entry.symbol for entry in self.entries]

    def active_symbols(self, day: dt.date) -> list[str]:
        """The members that traded on ``day``."""
        return [entry.symbol for entry in self.entries if entry.active_on(day)]

    def entry(self, symbol: str) -> UniverseEntry:
        """The entry of ``symbol``; raises :class:`UnknownSymbolError` if it is not a member."""
        for entry in self.entries:
            if entry.symbol == symbol.upper():
                return entry
        raise UnknownSymbolError(f"{symbol} is not in the universe {self.name!r}")


def universe_names(folder: Path = UNIVERSE_DIR) -> list[str]:
    """The universes that ``folder`` defines."""
    return sorted(path.stem for path in folder.glob("*.toml"))


def load_universe(name: str, folder: Path = UNIVERSE_DIR) -> Universe:
    """Read ``<folder>/<name>.toml``; errors name the file and the entry at fault."""
    path = folder / f"{name}.toml"
    if not path.exists():
        known = ", ".join(universe_names(folder)) or "none"
        raise UnknownSymbolError(f"no universe {name!r} in {folder} (known: {known})")
    with path.open("rb") as source:
        try:
            raw = tomllib.load(source)
        except tomllib.TOMLDecodeError as error:
            raise BarDataError(f"{path}: not valid TOML ({error})") from None

    def fail(problem: str) -> BarDataError:
        return BarDataError(f"{path}: {problem}")

    # (Older files also carry `context`: ignored; the features join features.context's series.)
    expected = {"name", "description", "asset_class", "source", "timeframe", "symbols"}
    if missing := sorted(expected - raw.keys()):
        raise fail(f"missing key {', '.join(missing)}")
    if raw["asset_class"] not in ASSET_CLASSES:
        raise fail(f"asset_class {raw['asset_class']!r} is not one of {', '.join(ASSET_CLASSES)}")
    entries = tuple(_entry(item, number, fail) for number, item in enumerate(raw["symbols"], 1))
    symbols = [entry.symbol for entry in entries]
    if repeated := sorted({symbol for symbol in symbols if symbols.count(symbol) > 1}):
        raise fail(f"symbol listed twice: {', '.join(repeated)}")
    return Universe(
        name=raw["name"],
        description=raw["description"],
        asset_class=raw["asset_class"],
        source=raw["source"],
        timeframe=raw["timeframe"],
        entries=entries,
    )


def _entry(item: dict, number: int, fail: Callable[[str], BarDataError]) -> UniverseEntry:
    where = f"symbol #{number} ({item.get('symbol', '?')})"
    unknown = sorted(item.keys() - {"symbol", "sector_etf", "start", "end"})
    if "symbol" not in item or unknown:
        raise fail(f"{where}: needs 'symbol' and may have sector_etf, start, end; got {unknown}")
    sector_etf = item.get("sector_etf")
    if sector_etf is not None and sector_etf not in SECTOR_ETFS:
        raise fail(f"{where}: sector_etf {sector_etf!r} is not one of {', '.join(SECTOR_ETFS)}")
    start, end = item.get("start"), item.get("end")
    for label, day in (("start", start), ("end", end)):
        if day is not None and not isinstance(day, dt.date):
            raise fail(f"{where}: {label} must be a date like 2004-04-08, got {day!r}")
    if start and end and end < start:
        raise fail(f"{where}: end {end} is before start {start}")
    return UniverseEntry(item["symbol"].upper(), sector_etf, start, end)
