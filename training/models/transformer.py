"""A pre-norm Transformer encoder whose attention weights can be read back.

The attention is written out (not ``scaled_dot_product_attention``) because the model reports
how much each bar weighed: the last position's attention row, averaged over heads, from the
last layer. The last position is the bar the prediction is made at, so its row reads as
"what this decision looked at".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class TransformerConfig:
    d_model: int = 128  # width of the residual stream
    n_layers: int = 4  # encoder blocks
    n_heads: int = 4  # attention heads per block
    ffn_factor: int = 4  # feed-forward width, times d_model
    window: int = 60  # positions with a learned embedding


class SelfAttention(nn.Module):
    """Multi-head self-attention over the whole window; returns the weights as well."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.n_heads, self.head_dim = config.n_heads, config.d_model // config.n_heads
        self.d_model = config.d_model
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)  # fused q, k, v projection
        self.proj = nn.Linear(config.d_model, config.d_model)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, steps, _ = x.shape  # (B, T, D)
        qkv = self.qkv(x).reshape(batch, steps, 3, self.n_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # (B, NH, T, dh) each
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.head_dim), dim=-1)
        y = (weights @ v).transpose(1, 2).reshape(batch, steps, self.d_model)  # (B, T, D)
        return self.proj(y), weights  # weights: (B, NH, T, T)


class EncoderBlock(nn.Module):
    """x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        d = config.d_model
        self.norm_attention = nn.LayerNorm(d)
        self.attention = SelfAttention(config)
        self.norm_mlp = nn.LayerNorm(d)
        self.mlp = nn.Sequential(
            nn.Linear(d, config.ffn_factor * d), nn.GELU(), nn.Linear(config.ffn_factor * d, d)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        attended, weights = self.attention(self.norm_attention(x))
        x = x + attended
        return x + self.mlp(self.norm_mlp(x)), weights


class TransformerEncoder(nn.Module):
    """Learned positions, a stack of encoder blocks and a final norm over (B, T, D)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.position = nn.Parameter(torch.zeros(config.window, config.d_model))
        nn.init.normal_(self.position, std=0.02)
        self.blocks = nn.ModuleList(EncoderBlock(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the encoded sequence (B, T, D) and the last bar's attention (B, T)."""
        x = x + self.position
        for block in self.blocks:
            x, weights = block(x)
        last_row = weights[:, :, -1, :].mean(dim=1)  # (B, T), each row sums to 1
        return self.norm(x), last_row
