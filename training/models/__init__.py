"""The model zoo: xLSTM and Transformer blocks, heads, and the four registered variants."""

from training.models.variants import (
    OUTPUT_NAMES,
    POSITION_DIM,
    TINY_OVERRIDES,
    VARIANTS,
    WINDOW,
    TradecastModel,
    build_model,
    make_config,
    register,
)

__all__ = [
    "OUTPUT_NAMES",
    "POSITION_DIM",
    "TINY_OVERRIDES",
    "VARIANTS",
    "WINDOW",
    "TradecastModel",
    "build_model",
    "make_config",
    "register",
]
