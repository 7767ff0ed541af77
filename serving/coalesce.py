"""Predict requests that wait at the same moment share one model run.

Each request is checked and cut into windows on the worker's event loop, on its own
(`Forecaster.prepare`: a bad request fails alone), then queued in its group (variant and model
set). A group whose model is free starts a run with everything queued in it, in a thread of its
own (onnxruntime releases the GIL), after the other requests the loop read in the same pass
(`call_soon`); requests that arrive during a run form the next one. Nobody waits for a timer:
alone, a request runs at once; under load, n windows in one run cost much less than n runs of
one, and a long `full` run never holds up a `hybrid` request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import bentoml
import numpy as np

from contract.model import VARIANTS
from serving.forecasting import Forecaster, ForecastResult, PreparedForecasts, SeriesInput

# On /metrics: how many requests each model run served (1 when alone; more under load).
BATCH_REQUESTS = bentoml.metrics.Histogram(
    name="tradecast_predict_batch_requests",
    documentation="predict requests answered by one coalesced model run",
    labelnames=["variant"],
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64),
)
Waiting = tuple[PreparedForecasts, asyncio.Future]  # a prepared request and its answer


def merge(parts: Sequence[PreparedForecasts]) -> PreparedForecasts:
    """Prepared forecasts of the same variant, model set and position width as one."""
    first = parts[0]
    if len(parts) == 1:
        return first
    windows = {name: np.concatenate([part.windows[name] for part in parts])
               for name in first.windows}
    given = [part.positions for part in parts if part.positions is not None]
    positions = None
    if given:  # flat (zeros) where a request sent none
        width = given[0].shape[1]
        positions = np.concatenate([
            np.zeros((len(part.inputs), width), np.float32) if part.positions is None
            else part.positions for part in parts
        ])
    inputs = tuple(item for part in parts for item in part.inputs)
    return PreparedForecasts(inputs, first.variant, first.models, windows, positions)


def group_key(prepared: PreparedForecasts) -> tuple:
    """Prepared forecasts with the same key can run as one batch."""
    width = None if prepared.positions is None else prepared.positions.shape[1]
    return prepared.variant, id(prepared.models), width


class Coalescer:
    """One per worker, used from its event loop: each variant's model runs in a thread of its
    own, so a long `full` run never holds up a `hybrid` request, and the loop keeps reading
    and checking requests while a model runs (onnxruntime releases the GIL)."""

    def __init__(self, forecaster: Forecaster, threads: int = len(VARIANTS) + 1) -> None:
        self.forecaster = forecaster
        # a thread per variant and one for "combined": no group waits for another's run
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="predict")
        self.waiting: dict[tuple, list[Waiting]] = {}  # group -> requests not yet running
        self.running: set[tuple] = set()  # groups with a model run in flight

    async def forecast(self, item: SeriesInput, variant: str) -> ForecastResult:
        prepared = self.forecaster.prepare([item], variant)  # a bad request fails here, alone
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        key = group_key(prepared)
        self.waiting.setdefault(key, []).append((prepared, future))
        if key not in self.running:
            self.running.add(key)
            loop.call_soon(self.start, key)  # behind every request this pass of the loop read
        return (await future)[0]

    def start(self, key: tuple) -> None:
        """Run everything waiting in ``key``'s group as one batch; stop when none waits."""
        members = self.waiting.pop(key, [])
        if not members:
            self.running.discard(key)
            return
        BATCH_REQUESTS.labels(variant=key[0]).observe(len(members))
        run = asyncio.get_running_loop().run_in_executor(
            self.pool, self.run, [prepared for prepared, _ in members])
        run.add_done_callback(lambda done: self.finish(key, members, done))

    def run(self, batch: list[PreparedForecasts]) -> list[ForecastResult]:
        """In a model thread: one run for the whole batch (an error goes to all of it)."""
        return self.forecaster.answer(merge(batch))

    def finish(self, key: tuple, members: list[Waiting], done: asyncio.Future) -> None:
        error = done.exception()
        results = [] if error else done.result()
        start = 0
        for prepared, future in members:
            count = len(prepared.inputs)
            if not future.done():  # done already: its client went away (cancelled)
                if error:  # the run failed for all of them: each gets the error
                    future.set_exception(error)
                else:
                    future.set_result(results[start : start + count])
            start += count
        self.start(key)  # the requests that arrived during this run, as the next batch
