"""Universe files: every bundled universe loads, and bad files are named with the bad entry."""

from __future__ import annotations

import datetime as dt

import pytest

from contract.errors import BarDataError, UnknownSymbolError
from marketdata.universe import SECTOR_ETFS, load_universe, universe_names

CONTEXT = ["SPY", "QQQ", "VIX", *SECTOR_ETFS]


def test_bundled_universes_load():
    assert universe_names() == ["context", "crypto", "default", "sample"]
    for name in universe_names():
        assert load_universe(name).name == name


def test_default_universe_is_50_to_100_stocks_each_with_a_sector_etf():
    universe = load_universe("default")
    assert 50 <= len(universe.symbols) <= 100
    assert all(entry.sector_etf in SECTOR_ETFS for entry in universe.entries)
    assert {entry.sector_etf for entry in universe.entries} == set(SECTOR_ETFS)


def test_context_universe_lists_index_volatility_and_sector_etfs():
    """`data fetch --universe context` brings every series the features may join."""
    from features.context import MARKET_CONTEXT

    assert sorted(load_universe("context").symbols) == sorted(CONTEXT)
    assert set(MARKET_CONTEXT) <= set(CONTEXT)


def test_crypto_pairs_trade_around_the_clock():
    universe = load_universe("crypto")
    assert universe.asset_class == "crypto"
    assert all("/" in symbol for symbol in universe.symbols)


def test_sample_universe_keeps_intc_after_its_end_date():
    universe = load_universe("sample")
    assert universe.symbols == ["AAPL", "GOOG", "INTC", "SPY"]
    assert universe.entry("intc").end == dt.date(2004, 4, 8)
    assert universe.active_symbols(dt.date(2004, 4, 8)) == ["AAPL", "GOOG", "INTC", "SPY"]
    assert universe.active_symbols(dt.date(2010, 1, 4)) == ["AAPL", "GOOG", "SPY"]
    assert universe.entry("AAPL").sector_etf == "XLK"
    with pytest.raises(UnknownSymbolError, match="MSFT is not in the universe 'sample'"):
        universe.entry("MSFT")


def test_unknown_universe_lists_known_ones():
    with pytest.raises(UnknownSymbolError, match=r"no universe 'nasdaq' .*known: context, crypto"):
        load_universe("nasdaq")


HEADER = """name = "bad"
description = "x"
asset_class = "stock"
source = "yfinance"
timeframe = "1d"
context = []
"""


@pytest.mark.parametrize(
    ("symbols", "problem"),
    [
        ('[{ symbol = "AAPL", sector_etf = "XLQ" }]', "symbol #1 (AAPL): sector_etf 'XLQ'"),
        ('[{ symbol = "AAPL" }, { symbol = "aapl" }]', "symbol listed twice: AAPL"),
        ('[{ symbol = "A", start = 2020-01-02, end = 2019-01-02 }]', "end 2019-01-02 is before"),
        ('[{ symbol = "A", end = "soon" }]', "end must be a date"),
        ('[{ ticker = "A" }]', "symbol #1 (?): needs 'symbol'"),
    ],
)
def test_bad_universe_files_name_the_entry(tmp_path, symbols, problem):
    (tmp_path / "bad.toml").write_text(HEADER + f"symbols = {symbols}\n")
    with pytest.raises(BarDataError, match="bad.toml: ") as caught:
        load_universe("bad", folder=tmp_path)
    assert problem in str(caught.value)
