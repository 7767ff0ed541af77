"""Realistic users of the tradecast service, for locust (run by ``tradecast bench load``).

Two scenarios (``tradecast bench load`` names the user classes to run). The mixed one: three
kinds of users share the real sample bars of the home in ``TRADECAST_HOME``:

- ``Analyst`` asks for forecasts from a window of bars, now and then with attention weights,
  mostly from ``hybrid`` and sometimes from the other variants or the ensemble;
- ``Feed`` streams one symbol bar by bar into ``ingest``, timestamps always increasing, as a
  market-data feed would (its first bars warm the symbol's live state up);
- ``Dashboard`` polls ``signals`` for every symbol being streamed (the live universe).

The predict-only closed loop: ``Predictor`` users send ``predict`` requests for one variant
(``TRADECAST_LOAD_VARIANT``, default hybrid) back to back, no wait: the service's throughput
(see `WINDOWS` on the client's own cost).

Predict requests are named ``predict [variant]`` (``predict + attention [variant]``), so every
variant gets its own percentiles; ``benchmarks.load`` also folds them into one row per endpoint.

Run alone against a local server:
``TRADECAST_HOME=DIR locust -f benchmarks/locustfile.py --headless -u 10 -t 60s
--host http://127.0.0.1:3000``. With ``TRADECAST_LOAD_LOG=FILE`` every request's time and
latency are written to FILE when locust quits (the soak report reads it).
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

import gevent
import pandas as pd
from locust import FastHttpUser, between, constant, events, task

# locust puts this file's folder on sys.path, where benchmarks/features.py and benchmarks/http.py
# would shadow the features package and the standard library's http: the project root takes
# that folder's place (and locust removes it again after this import).
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent) if Path(entry or ".").resolve() == HERE else entry
               for entry in sys.path]

from benchmarks.load import bars_per_prediction, predict_request, read_sample_bars  # noqa: E402
from serving.examples import bar_json  # noqa: E402

BARS = read_sample_bars(os.environ.get("TRADECAST_HOME"))
WINDOW_BARS = bars_per_prediction()
PREDICT_VARIANTS = {"hybrid": 6, "simplex": 2, "full": 1, "ensemble": 1}  # variant: weight
RUN_ID = uuid.uuid4().hex[:6]  # streamed symbols are new in every run: no clash with old state
STREAM_NUMBERS = itertools.count()
LIVE_SYMBOLS: set[str] = set()  # streamed symbols whose live state gives forecasts
REQUEST_LOG: list[tuple[float, str, float, bool]] = []  # (unix time, name, ms, failed)
DAY = pd.Timedelta(days=1)
API_KEY = os.environ.get("TRADECAST_API_KEY")  # ingest needs it when the server has one
JSON_HEADER = {"content-type": "application/json"}
WINDOWS_PER_SYMBOL = 40  # predict windows per symbol: the newest ones, a window apart


def encoded_windows(bars: pd.DataFrame) -> list[bytes]:
    """The bars of ``WINDOWS_PER_SYMBOL`` predict windows of ``bars``, each as JSON."""
    ends = range(len(bars), max(WINDOW_BARS, len(bars) - WINDOWS_PER_SYMBOL * WINDOW_BARS) - 1,
                 -WINDOW_BARS)
    return [json.dumps(predict_request("", bars.iloc[end - WINDOW_BARS:end])["bars"]).encode()
            for end in ends]


def predict_body(symbol: str, variant: str, return_attention: bool = False) -> bytes:
    """A predict body for one of ``symbol``'s windows (`predict_request`'s fields)."""
    fields = json.dumps({"symbol": symbol, "variant": variant,
                         "return_attention": return_attention})
    return fields[:-1].encode() + b', "bars": ' + random.choice(WINDOWS[symbol]) + b"}"


# Encoded once, before any user starts. The client shares the server's two cores and one gevent
# loop runs all its users: building a body from a frame (about 2 ms) would hold that loop while
# other users' answers wait, and count into their latency. For the same reason every user is a
# `FastHttpUser` (geventhttpclient), which spends a fraction of python-requests' CPU on a request.
WINDOWS = {symbol: encoded_windows(bars) for symbol, bars in BARS.items()}


class Analyst(FastHttpUser):
    weight = 5
    wait_time = between(0.2, 1.0)

    @task(3)
    def predict(self) -> None:
        self._predict(return_attention=False)

    @task(1)
    def predict_with_attention(self) -> None:
        self._predict(return_attention=True)

    def _predict(self, return_attention: bool) -> None:
        symbol = random.choice(list(WINDOWS))
        variant = random.choices(list(PREDICT_VARIANTS), list(PREDICT_VARIANTS.values()))[0]
        name = "predict + attention" if return_attention else "predict"
        self.client.post("/predict", data=predict_body(symbol, variant, return_attention),
                         headers=JSON_HEADER, name=f"{name} [{variant}]")


class Predictor(FastHttpUser):
    """Closed loop: the next predict as soon as the last one is answered."""

    wait_time = constant(0)
    variant = os.environ.get("TRADECAST_LOAD_VARIANT", "hybrid")

    @task
    def predict(self) -> None:
        body = predict_body(random.choice(list(WINDOWS)), self.variant)
        self.client.post("/predict", data=body, headers=JSON_HEADER,
                         name=f"predict [{self.variant}]")


class Feed(FastHttpUser):
    weight = 3
    wait_time = between(0.5, 1.5)  # about a bar a second per symbol

    def on_start(self) -> None:
        source = random.choice(list(BARS))
        self.bars = BARS[source]
        self.symbol = f"{source}.{RUN_ID}.{next(STREAM_NUMBERS)}"
        self.sent = 0
        self.lap = self.bars["timestamp"].iloc[-1] - self.bars["timestamp"].iloc[0] + DAY
        # Warm the symbol's live state up at full speed, under its own name in the stats.
        while self._ingest("ingest (warm-up)").get("bars_needed", 0) > 0:
            pass
        LIVE_SYMBOLS.add(self.symbol)

    @task
    def ingest(self) -> None:
        self._ingest("ingest")

    def _ingest(self, name: str) -> dict:
        """Send the next bar; past the last real bar, replay the series shifted in time."""
        laps, index = divmod(self.sent, len(self.bars))
        bar = next(self.bars.iloc[index:index + 1].itertuples())
        bar = bar._replace(timestamp=bar.timestamp + laps * self.lap)
        self.sent += 1
        response = self.client.post("/ingest", json={"symbol": self.symbol, "bar": bar_json(bar)},
                                    headers={"X-API-Key": API_KEY} if API_KEY else None,
                                    name=name)
        return response.json() if response.ok else {}


class Dashboard(FastHttpUser):
    weight = 1
    wait_time = between(1.0, 3.0)

    @task
    def signals(self) -> None:
        if LIVE_SYMBOLS:
            self.client.post("/signals", json={"symbols": sorted(LIVE_SYMBOLS)}, name="signals")


@events.request.add_listener
def _log_request(request_type, name, response_time, response_length, exception=None,
                 **kwargs) -> None:
    REQUEST_LOG.append((time.time(), name, response_time, exception is not None))


@events.quitting.add_listener
def _write_request_log(environment, **kwargs) -> None:
    path = os.environ.get("TRADECAST_LOAD_LOG")
    if not path:
        return
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "name", "ms", "failed"])
        writer.writerows(REQUEST_LOG)


# Loading the bars above blocks gevent's loop for seconds; its cached clock would then be that
# much behind, and locust's --run-time timer, set right after this import, would fire early.
gevent.get_hub().loop.update_now()
