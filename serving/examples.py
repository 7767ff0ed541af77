"""A ready-to-send request for the curl example `tradecast serve` prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contract.errors import UnknownSymbolError
from contract.home import Home
from marketdata.store import BarStore
from serving.forecasting import MIN_BARS

EXAMPLE_SYMBOL = "AAPL"


def bar_json(bar: Any) -> dict:
    """One row of a bar frame (from ``itertuples``) as the API's ``Bar``."""
    return {"timestamp": bar.timestamp.isoformat(), "open": bar.open, "high": bar.high,
            "low": bar.low, "close": bar.close, "volume": bar.volume}


def predict_body(home: Home, symbol: str = EXAMPLE_SYMBOL, bars: int = MIN_BARS) -> dict:
    """A predict request with the store's last ``bars`` bars of ``symbol``."""
    frame = BarStore(home.bars_dir).read(symbol, "1d").tail(bars)
    return {"symbol": symbol, "bars": [bar_json(row) for row in frame.itertuples()],
            "variant": "hybrid"}


def curl_example(home: Home, url: str) -> str | None:
    """Write ``<home>/example_predict.json`` and return a curl command that posts it."""
    try:
        body = predict_body(home)
    except UnknownSymbolError:
        return None  # nothing in the store to build an example from
    path: Path = home.root / "example_predict.json"
    path.write_text(json.dumps(body))
    return (
        f"curl -s -X POST {url}/predict -H 'content-type: application/json' -d @{path}"
    )
