"""The four model variants, registered by name, behind one interface.

Every variant maps ``features (B, 60, F)`` (raw engine columns; the model normalises them with
its own buffers) and ``position (B, POSITION_DIM)`` (used by ``full`` only) to the tuple
``(direction_logits (B, 3, 3), returns (B, 3), volatility (B, 3), attention (B, 60))``.

| variant    | shape                                                             | parameters |
| ---------- | ----------------------------------------------------------------- | ---------- |
| `full`     | xLSTM 512 + Transformer 256 + position path 320 -> fusion -> heads | 27.1M      |
| `simplex`  | xLSTM 256 -> attention temporal pool -> heads                      | 3M         |
| `hybrid`   | xLSTM 256 + Transformer 128 -> fusion -> heads                     | 6M         |
| `ensemble` | direction, price and risk nets -> fusion -> ensemble heads         | 8M         |
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from contract.model import POSITION_DIM
from training.config import load_profile
from training.models.heads import Fusion, HeadsConfig, MultiTaskHeads, TemporalAttentionPool
from training.models.transformer import TransformerConfig, TransformerEncoder
from training.models.xlstm import XLSTM, XLSTMConfig

VARIANTS: dict[str, type[TradecastModel]] = {}

Outputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def register(name: str) -> Callable[[type[TradecastModel]], type[TradecastModel]]:
    """Class decorator: make a variant buildable by ``build_model(name, ...)``."""

    def add(cls: type[TradecastModel]) -> type[TradecastModel]:
        cls.variant = name
        VARIANTS[name] = cls
        return cls

    return add


class TradecastModel(nn.Module):
    """Shared plumbing: the config, the input width and the input normaliser buffers."""

    variant = ""  # set by @register
    config_class: type = object  # the variant's frozen config dataclass
    uses_position = False  # whether forward reads the position input

    def __init__(self, config: Any, n_features: int):
        super().__init__()
        self.config, self.n_features = config, n_features
        self.register_buffer("input_mean", torch.zeros(n_features))
        self.register_buffer("input_std", torch.ones(n_features))

    def set_normaliser(self, mean: Any, std: Any) -> None:
        """Store the training window's per-feature mean and std (arrays of length F)."""
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        if mean.numel() != self.n_features or std.numel() != self.n_features:
            raise ValueError(f"normaliser needs {self.n_features} values, got {mean.numel()}")
        if not bool(torch.isfinite(mean).all()) or not bool((std > 0).all()):
            raise ValueError("normaliser mean must be finite and std positive")
        self.input_mean.copy_(mean)
        self.input_std.copy_(std)

    def normalise(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.input_mean) / self.input_std  # (B, T, F)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


@dataclass(frozen=True)
class SimplexConfig:
    xlstm: XLSTMConfig = XLSTMConfig(d_model=256, layout="mmsm")  # the only branch
    heads: HeadsConfig = HeadsConfig(hidden=512)  # multi-task heads on the pooled summary


@register("simplex")
class Simplex(TradecastModel):
    """xLSTM -> attention temporal pool -> heads: the smallest, fastest variant."""

    config_class = SimplexConfig

    def __init__(self, config: SimplexConfig, n_features: int):
        super().__init__(config, n_features)
        self.embed = nn.Linear(n_features, config.xlstm.d_model)
        self.xlstm = XLSTM(config.xlstm)
        self.pool = TemporalAttentionPool(config.xlstm.d_model)
        self.heads = MultiTaskHeads(config.xlstm.d_model, config.heads)

    def forward(self, features: torch.Tensor, position: torch.Tensor | None = None) -> Outputs:
        sequence = self.xlstm(self.embed(self.normalise(features)))  # (B, T, D)
        summary, attention = self.pool(sequence)  # (B, D), (B, T)
        return (*self.heads(summary), attention)


@dataclass(frozen=True)
class HybridConfig:
    # mLSTM blocks only: an sLSTM block's 60 sequential steps were ~40 % of a batch-1 run, and
    # the walk-forward comparison found this layout no worse (docs/layouts.md)
    xlstm: XLSTMConfig = XLSTMConfig(d_model=256, layout="mmmm")  # recurrent branch
    transformer: TransformerConfig = TransformerConfig(d_model=128, n_layers=4)  # attention branch
    fusion_width: int = 1024  # width of the fused summary
    heads: HeadsConfig = HeadsConfig(hidden=512)  # multi-task heads on the fused summary


@register("hybrid")
class Hybrid(TradecastModel):
    """xLSTM and Transformer side by side on the same window, last steps fused."""

    config_class = HybridConfig

    def __init__(self, config: HybridConfig, n_features: int, extra_width: int = 0):
        super().__init__(config, n_features)
        self.embed_xlstm = nn.Linear(n_features, config.xlstm.d_model)
        self.xlstm = XLSTM(config.xlstm)
        self.embed_transformer = nn.Linear(n_features, config.transformer.d_model)
        self.transformer = TransformerEncoder(config.transformer)
        width = config.xlstm.d_model + config.transformer.d_model + extra_width
        self.fusion = Fusion(width, config.fusion_width)
        self.heads = MultiTaskHeads(config.fusion_width, config.heads)

    def branches(self, features: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The two branch summaries at the last bar, and the Transformer's attention (B, T)."""
        x = self.normalise(features)  # (B, T, F)
        # Lean: both branches compute only what their last step needs (see last_only).
        recurrent = self.xlstm(self.embed_xlstm(x), last_only=True)[:, -1]  # (B, Dx)
        attended, attention = self.transformer(self.embed_transformer(x), last_only=True)
        return [recurrent, attended[:, -1]], attention  # (B, Dx), (B, Dt); attention (B, T)

    def forward(self, features: torch.Tensor, position: torch.Tensor | None = None) -> Outputs:
        summaries, attention = self.branches(features)
        return (*self.heads(self.fusion(summaries)), attention)


@dataclass(frozen=True)
class FullConfig:
    # mLSTM blocks only, as in hybrid: no worse on the walk-forward (docs/layouts.md)
    xlstm: XLSTMConfig = XLSTMConfig(d_model=512, layout="mmmmmm")  # recurrent branch
    transformer: TransformerConfig = TransformerConfig(d_model=256, n_layers=4)  # attention
    position_width: int = 320  # width of the trading-state path
    fusion_width: int = 2048  # width of the fused summary
    heads: HeadsConfig = HeadsConfig(hidden=512)  # multi-task heads on the fused summary


@register("full")
class Full(Hybrid):
    """Hybrid at full width plus the trading state (position) as a third fused branch."""

    config_class = FullConfig
    uses_position = True

    def __init__(self, config: FullConfig, n_features: int):
        super().__init__(config, n_features, extra_width=config.position_width)
        width = config.position_width
        self.position_path = nn.Sequential(
            nn.Linear(POSITION_DIM, width), nn.GELU(), nn.Linear(width, width), nn.GELU()
        )

    def forward(self, features: torch.Tensor, position: torch.Tensor | None = None) -> Outputs:
        if position is None:  # flat, no trade history: a Python-level default, never traced
            position = features.new_zeros(features.shape[0], POSITION_DIM)
        summaries, attention = self.branches(features)
        state = self.position_path(position)  # (B, position_width)
        return (*self.heads(self.fusion([*summaries, state])), attention)


@dataclass(frozen=True)
class EnsembleConfig:
    # mLSTM blocks only: no worse on the walk-forward (docs/layouts.md)
    direction_net: XLSTMConfig = XLSTMConfig(d_model=256, layout="mmmm")  # pooled xLSTM
    price_net: TransformerConfig = TransformerConfig(d_model=192, n_layers=4)  # Transformer
    risk_net: XLSTMConfig = XLSTMConfig(d_model=192, layout="mmm")  # mLSTM memory of shocks
    fusion_width: int = 1024  # width of the fused member summaries
    heads: HeadsConfig = HeadsConfig(hidden=384)  # ensemble heads on the fused summaries


@register("ensemble")
class Ensemble(TradecastModel):
    """Three differently built nets read the window; ensemble heads read all three."""

    config_class = EnsembleConfig

    def __init__(self, config: EnsembleConfig, n_features: int):
        super().__init__(config, n_features)
        self.embed_direction = nn.Linear(n_features, config.direction_net.d_model)
        self.direction_net = XLSTM(config.direction_net)
        self.direction_pool = TemporalAttentionPool(config.direction_net.d_model)
        self.embed_price = nn.Linear(n_features, config.price_net.d_model)
        self.price_net = TransformerEncoder(config.price_net)
        self.embed_risk = nn.Linear(n_features, config.risk_net.d_model)
        self.risk_net = XLSTM(config.risk_net)
        width = config.direction_net.d_model + config.price_net.d_model + config.risk_net.d_model
        self.fusion = Fusion(width, config.fusion_width)
        self.heads = MultiTaskHeads(config.fusion_width, config.heads)

    def forward(self, features: torch.Tensor, position: torch.Tensor | None = None) -> Outputs:
        x = self.normalise(features)  # (B, T, F)
        direction, pool_weights = self.direction_pool(self.direction_net(self.embed_direction(x)))
        # The pooled direction net needs every step; the other two only their last one.
        price, price_attention = self.price_net(self.embed_price(x), last_only=True)  # (B, 1, Dp)
        risk = self.risk_net(self.embed_risk(x), last_only=True)[:, -1]  # (B, Dr)
        fused = self.fusion([direction, price[:, -1], risk])  # (B, fusion_width)
        attention = 0.5 * (pool_weights + price_attention)  # mean of two distributions over T
        return (*self.heads(fused), attention)


def make_config(variant: str, **overrides: Any) -> Any:
    """The variant's default config with fields replaced; a dict replaces a nested config's fields.

    ``make_config("hybrid", xlstm={"d_model": 32, "layout": "ms"}, fusion_width=64)``
    """
    if variant not in VARIANTS:
        raise KeyError(f"unknown model variant {variant!r}; known: {', '.join(sorted(VARIANTS))}")
    config = VARIANTS[variant].config_class()
    changes = {}
    for name, value in overrides.items():
        current = getattr(config, name)  # AttributeError names an unknown field
        if isinstance(value, dict) and dataclasses.is_dataclass(current):
            value = dataclasses.replace(current, **value)
        changes[name] = value
    return dataclasses.replace(config, **changes)


def build_model(variant: str, n_features: int, **overrides: Any) -> TradecastModel:
    """Build a freshly initialised variant; overrides change config fields (see make_config)."""
    config = make_config(variant, **overrides)
    return VARIANTS[variant](config, n_features)


# Overrides that shrink each variant to a few thousand parameters, for fast tests and smoke
# runs: build_model(variant, n_features, **TINY_OVERRIDES[variant]). Same blocks, same outputs.
# They are the `tiny` training profile's [model] tables, so "tiny" means one size everywhere.
TINY_OVERRIDES: dict[str, dict[str, Any]] = load_profile("tiny").model
