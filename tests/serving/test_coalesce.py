"""Concurrent predicts share a model run (`serving.coalesce`), with the answers of lone runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from contract.home import Home
from serving.coalesce import Coalescer
from serving.config import ServingConfig
from serving.errors import InputError
from serving.forecasting import MIN_BARS, Forecaster, ForecastResult, SeriesInput
from serving.registry import ModelRegistry


class CountingForecaster(Forecaster):
    """The real forecaster, counting its model runs and the requests in each."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.runs: list[int] = []

    def answer(self, prepared):  # noqa: ANN001, ANN201
        self.runs.append(len(prepared.inputs))
        return super().answer(prepared)


@pytest.fixture(scope="module")
def forecaster(serving_home: Home) -> CountingForecaster:
    return CountingForecaster(ModelRegistry(serving_home.exported_dir), ServingConfig())


def windows_of(bars: pd.DataFrame, count: int) -> list[SeriesInput]:
    """``count`` different windows of real bars, as predict requests would bring them."""
    return [SeriesInput(f"S{i}", bars.iloc[i * 7 : i * 7 + MIN_BARS].reset_index(drop=True))
            for i in range(count)]


def run_loop(main: Callable[[], Coroutine]) -> object:
    """``main()`` on a fresh event loop in a thread of its own, as a worker's loop would run
    it: the browser tests' Playwright keeps a loop running in this thread."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(lambda: asyncio.run(main())).result()


def gathered(coalescer: Coalescer, calls: list[tuple[SeriesInput, str]]) -> list:
    """The calls made together, as requests read in one pass of the event loop."""
    async def main() -> list:
        return await asyncio.gather(*(coalescer.forecast(item, variant) for item, variant in calls),
                                    return_exceptions=True)

    return run_loop(main)


def assert_same_forecast(got: ForecastResult, alone: ForecastResult) -> None:
    assert got.symbol == alone.symbol and got.timestamp == alone.timestamp
    np.testing.assert_allclose(got.prediction.probabilities, alone.prediction.probabilities,
                               atol=1e-5)
    np.testing.assert_allclose(got.prediction.returns, alone.prediction.returns, atol=1e-5)
    np.testing.assert_allclose(got.prediction.attention, alone.prediction.attention, atol=1e-5)
    assert got.signal == alone.signal


def test_requests_made_together_run_once_and_get_their_own_answers(
    forecaster: CountingForecaster, aapl: pd.DataFrame
) -> None:
    items = windows_of(aapl, 6)
    alone = [forecaster.forecast_bars(item.symbol, item.bars, variant="hybrid") for item in items]
    forecaster.runs.clear()
    results = gathered(Coalescer(forecaster), [(item, "hybrid") for item in items])
    assert forecaster.runs == [6]  # one model run for all six
    for got, expected in zip(results, alone, strict=True):
        assert_same_forecast(got, expected)
    assert len({round(float(r.prediction.returns[0, 0]), 9) for r in results}) == 6


def test_variants_run_apart_and_a_bad_request_fails_alone(
    forecaster: CountingForecaster, aapl: pd.DataFrame
) -> None:
    good = windows_of(aapl, 4)
    short = SeriesInput("SHORT", aapl.iloc[: MIN_BARS - 1].reset_index(drop=True))
    calls = [(good[0], "hybrid"), (short, "hybrid"), (good[1], "simplex"), (good[2], "hybrid"),
             (good[3], "combined")]
    forecaster.runs.clear()
    results = gathered(Coalescer(forecaster), calls)
    assert isinstance(results[1], InputError) and "bars" in str(results[1])
    assert sorted(forecaster.runs) == [1, 1, 2]  # hybrid x2 together; simplex; combined
    for (item, variant), got in zip(calls, results, strict=True):
        if item is short:
            continue
        assert got.variant == variant
        assert_same_forecast(got, forecaster.forecast_bars(item.symbol, item.bars,
                                                           variant=variant))


def test_requests_that_arrive_during_a_run_form_the_next_batch(
    forecaster: CountingForecaster, aapl: pd.DataFrame
) -> None:
    items = windows_of(aapl, 5)
    coalescer = Coalescer(forecaster)

    async def main() -> list:
        first = asyncio.ensure_future(coalescer.forecast(items[0], "hybrid"))
        await asyncio.sleep(0)  # the first run has started in its thread
        await asyncio.sleep(0)
        later = [asyncio.ensure_future(coalescer.forecast(item, "hybrid")) for item in items[1:]]
        return [await first] + [await task for task in later]

    forecaster.runs.clear()
    results = run_loop(main)
    assert forecaster.runs == [1, 4]  # the four that waited went together
    assert [r.symbol for r in results] == [item.symbol for item in items]
