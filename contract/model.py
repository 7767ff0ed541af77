"""The model interface every package agrees on: window, horizons, inputs, outputs, variants.

Training builds graphs with these shapes, export writes them into ``metadata.json``, serving
checks a loaded graph against them and the backtest reads predictions per horizon. Serving may
not import training (it would pull torch in), so the facts live here, in the standard library.
"""

from __future__ import annotations

WINDOW = 60  # bars per model input window
HORIZONS = (1, 4, 24)  # forward horizons in bars: the order of the model's horizon axis
N_CLASSES = 3  # direction classes per horizon: down, flat, up
# The trading state the full model conditions on, in this order: current position in [-1, 1],
# unrealised return of that position, bars held / WINDOW, and the return of the last closed trade.
POSITION_DIM = 4

FEATURES_INPUT = "features"  # graph input (batch, WINDOW, n_features), float32
POSITION_INPUT = "position"  # graph input (batch, POSITION_DIM), float32; the full variant only
OUTPUT_NAMES = ("direction_logits", "returns", "volatility", "attention")  # graph outputs, in order


def output_shapes(window: int = WINDOW, horizons: int = len(HORIZONS)) -> dict[str, tuple]:
    """Each output's shape, ``"batch"`` marking the dynamic axis, in ``OUTPUT_NAMES`` order."""
    return {
        "direction_logits": ("batch", horizons, N_CLASSES),
        "returns": ("batch", horizons),
        "volatility": ("batch", horizons),
        "attention": ("batch", window),  # how much each bar of the window weighed
    }


VARIANTS = ("full", "simplex", "hybrid", "ensemble")  # the model variants (training registers them)
# The weighted mix of several variants' forecasts (serving's answers, the backtest's comparison).
# Not "ensemble": that is one model variant, a single network.
COMBINED = "combined"
