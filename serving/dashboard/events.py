"""Server-Sent Events from a training run's metrics.jsonl, as the run writes it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

from contract.runs import METRICS_LOG, SUMMARY_FILE
from serving.dashboard.homefiles import metric_lines

POLL_S = 0.5  # how often the file is looked at
MAX_STREAM_S = 3600.0  # the browser's EventSource reconnects after this, from the start
WAIT_FOR_START_S = 120.0  # a run folder whose training never writes a line ends the stream


async def metrics_events(folder: Path) -> AsyncIterator[str]:
    """Every whole line of ``metrics.jsonl`` (an event each); `end` once ``summary.json`` exists.

    Lines are counted, not byte offsets kept, so a line caught half-written is sent when whole.
    """
    sent, started = 0, time.monotonic()
    yield "retry: 2000\n\n"
    while time.monotonic() - started < MAX_STREAM_S:
        finished = (folder / SUMMARY_FILE).exists()  # before reading: no line is missed
        for line in metric_lines(folder / METRICS_LOG, skip=sent):
            sent += 1
            yield f"data: {json.dumps(line)}\n\n"
        if finished:
            yield "event: end\ndata: {}\n\n"
            return
        if not sent and time.monotonic() - started > WAIT_FOR_START_S:
            yield "event: end\ndata: {\"reason\": \"no metrics written\"}\n\n"
            return
        await asyncio.sleep(POLL_S)
