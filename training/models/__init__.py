"""The model zoo: xLSTM and Transformer blocks, heads, and the four registered variants."""

from training.models.variants import (
    TINY_OVERRIDES,
    VARIANTS,
    TradecastModel,
    build_model,
    make_config,
    register,
)

__all__ = [
    "TINY_OVERRIDES",
    "VARIANTS",
    "TradecastModel",
    "build_model",
    "make_config",
    "register",
]
