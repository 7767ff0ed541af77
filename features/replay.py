"""A whole history replayed through the streaming engine, as a live service would receive it.

:func:`stream_features` returns the frame :func:`features.engine.compute_features` returns, built
one bar at a time; `tradecast features compute --mode stream` and the batch = stream tests use it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features.context import DEFAULT_MAX_AGE, SECTOR, bar_times, context_slot
from features.engine import FEATURE_SPECS, StreamingEngine, bar_values, feature_names


def stream_features(bars: pd.DataFrame, context: Mapping[str, pd.DataFrame] | None = None,
                    *, max_age: pd.Timedelta = DEFAULT_MAX_AGE) -> pd.DataFrame:
    """The same frame as :func:`compute_features`, built one bar at a time by the streaming engine.

    Every bar and context bar is fed in the order it became known (context first at equal
    known-at times): the order in which a live service receives them.
    """
    engine = StreamingEngine(max_age=max_age)
    symbol = "SYMBOL"
    events: list[tuple[int, int, str, int, float]] = []  # (known, bar?, name, open, close / row)
    for name, frame in (context or {}).items():
        slot = context_slot(name)
        name = slot.upper()
        if slot == SECTOR:
            engine.add_symbol(symbol, sector=name)
        opens, known = bar_times(frame, f"context {name}")
        closes = frame["close"].to_numpy(dtype=np.float64)
        events += [(int(k), 0, name, int(t), c) for k, t, c in
                   zip(known, opens, closes, strict=True)]
    values = bar_values(bars)
    stamps, known = bar_times(bars, "bars")
    events += [(int(k), 1, "", int(t), float(i))
               for i, (k, t) in enumerate(zip(known, stamps, strict=True))]
    rows = np.empty((len(stamps), len(FEATURE_SPECS)))
    for known_at, is_bar, name, stamp, value in sorted(events):
        if is_bar:
            i = int(value)
            rows[i] = engine.update_many([symbol], stamps[i : i + 1], values[i : i + 1],
                                         known_at=known[i : i + 1])[0]
        else:
            engine.update_context(name, stamp, value, known_at=known_at)
    frame = pd.DataFrame(rows, columns=feature_names())
    frame.insert(0, "timestamp", bars["timestamp"].reset_index(drop=True))
    return frame
