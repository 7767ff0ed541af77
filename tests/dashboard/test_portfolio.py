"""The paper portfolio's accounting, checked by hand on a few bars, and its restart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.dashboard.portfolio import PaperPortfolio, PortfolioConfig

DAYS = pd.date_range("2020-01-01", periods=5, freq="D", tz="UTC")


def feed(book: PaperPortfolio, symbol: str, closes: list[float], targets: list[float | None]):
    for day, close, target in zip(DAYS, closes, targets, strict=True):
        book.observe(symbol, day, close, target)


def test_a_target_fills_at_the_next_close_and_pays_its_cost() -> None:
    book = PaperPortfolio(config=PortfolioConfig(initial_equity=100.0, cost_per_unit=0.01))
    # moves +10%, -10%, +10%, +10%; long decided at day 0's end, flat decided at day 2's end
    feed(book, "A", [100, 110, 99, 108.9, 119.79], [1.0, 1.0, 0.0, 0.0, 0.0])
    summary = book.summary()
    # filled at day 1's close (cost 1%), held over day 1 -> 2 and 2 -> 3, sold at day 3's close;
    # a day's cost comes off that day's return (a fraction of the equity before it)
    by_hand = 100 * (1 - 0.01) * (1 - 0.1) * (1 + 0.1 - 0.01)
    assert summary["equity"] == pytest.approx(by_hand)
    assert summary["pnl_total"] == pytest.approx(by_hand - 100)
    assert summary["costs_total"] == pytest.approx(100 * 0.01 + 100 * 0.99 * 0.9 * 0.01)
    assert summary["max_drawdown"] == pytest.approx(0.99 * 0.9 - 1)
    assert summary["risk"]["gross_exposure"] == 0.0
    assert summary["signals"][0]["target"] == 0.0


def test_symbols_are_equal_sleeves_and_warm_up_is_flat() -> None:
    book = PaperPortfolio(config=PortfolioConfig(initial_equity=1.0, cost_per_unit=0.0))
    feed(book, "A", [10, 10, 20, 20, 20], [1.0, 1.0, 1.0, 1.0, 1.0])
    feed(book, "B", [10, 10, 5, 5, 5], [None, None, None, None, None])  # warming up: flat
    summary = book.summary()
    assert summary["equity"] == pytest.approx(1.5)  # half the book doubled, half stayed cash
    assert summary["risk"]["gross_exposure"] == pytest.approx(0.5)
    curve = np.array(summary["equity_curve"])
    assert curve[:, 0].tolist() == [int(d.timestamp()) for d in DAYS]


def test_old_bars_are_ignored_and_the_book_survives_a_restart(tmp_path) -> None:
    book = PaperPortfolio(tmp_path, PortfolioConfig(cost_per_unit=0.002))
    feed(book, "A", [100, 101, 99, 103, 104], [0.0, 1.0, 1.0, -1.0, -1.0])
    assert not book.observe("A", DAYS[2], 50.0, 1.0)  # older than the last one
    before = book.summary()
    book.close()
    again = PaperPortfolio(tmp_path, PortfolioConfig(cost_per_unit=0.002))
    assert again.summary() == before
    assert before["sharpe"] is not None and before["max_drawdown"] <= 0
