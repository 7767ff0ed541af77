"""A pre-norm Transformer encoder whose attention weights can be read back.

The attention is written out (not ``scaled_dot_product_attention``) because the model reports
how much each bar weighed: the last position's attention row, averaged over heads, from the
last layer. The last position is the bar the prediction is made at, so its row reads as
"what this decision looked at". Since every variant reads only that position, the encoder can
skip the rest of the last layer (``last_only``); tests check it against the full sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class TransformerConfig:
    d_model: int = 128  # width of the residual stream
    n_layers: int = 4  # encoder blocks
    n_heads: int = 4  # attention heads per block
    ffn_factor: int = 4  # feed-forward width, times d_model
    window: int = 60  # positions (each with a learned embedding); shapes come from it


class SelfAttention(nn.Module):
    """Multi-head self-attention over the whole window; returns the weights as well."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.n_heads, self.head_dim = config.n_heads, config.d_model // config.n_heads
        self.d_model, self.window = config.d_model, config.window
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)  # fused q, k, v projection
        self.proj = nn.Linear(config.d_model, config.d_model)

    def forward(self, x: torch.Tensor, last_only: bool = False) -> tuple[torch.Tensor, ...]:
        """Every position attends (B, T, D), or with ``last_only`` the last one only (B, 1, D).

        Keys and values always come from every position; ``last_only`` computes the query, the
        scores and the output projection for the last row alone, which is all a last-step
        summary reads. The weight slices are constants of the exported graph.
        """
        steps, d = self.window, self.d_model  # (B, T, D) with T = steps
        rows = 1 if last_only else steps
        if last_only:
            weight, bias = self.qkv.weight, self.qkv.bias
            q = F.linear(x[:, -1:], weight[:d], bias[:d])  # (B, 1, D)
            k, v = F.linear(x, weight[d:], bias[d:]).split(d, dim=-1)  # (B, T, D) each
        else:
            q, k, v = self.qkv(x).split(d, dim=-1)  # (B, T, D) each
        q, k, v = self.split_heads(q, rows), self.split_heads(k, steps), self.split_heads(v, steps)
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.head_dim), dim=-1)
        y = (weights @ v).transpose(1, 2).reshape(-1, rows, d)  # (B, R, D)
        return self.proj(y), weights  # weights: (B, NH, R, T)

    def split_heads(self, x: torch.Tensor, rows: int) -> torch.Tensor:
        """(B, rows, D) -> (B, NH, rows, dh)."""
        return x.reshape(-1, rows, self.n_heads, self.head_dim).transpose(1, 2)


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

    def forward(self, x: torch.Tensor, last_only: bool = False) -> tuple[torch.Tensor, ...]:
        """(B, T, D) -> (B, T, D), or (B, 1, D) for the last position with ``last_only``."""
        attended, weights = self.attention(self.norm_attention(x), last_only)
        x = (x[:, -1:] if last_only else x) + attended
        return x + self.mlp(self.norm_mlp(x)), weights


class TransformerEncoder(nn.Module):
    """Learned positions, a stack of encoder blocks and a final norm over (B, T, D)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.position = nn.Parameter(torch.zeros(config.window, config.d_model))
        nn.init.normal_(self.position, std=0.02)
        self.blocks = nn.ModuleList(EncoderBlock(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model)

    def forward(self, x: torch.Tensor, last_only: bool = False) -> tuple[torch.Tensor, ...]:
        """The encoded sequence (B, T, D) and the last bar's attention (B, T).

        With ``last_only`` the sequence is the last position alone (B, 1, D): every layer but
        the last needs all positions (they are the last layer's keys and values), the last
        layer needs only the last query row, and the attention output is that row.
        """
        x = x + self.position
        for block in self.blocks[:-1]:
            x, _ = block(x)
        x, weights = self.blocks[-1](x, last_only)
        last_row = weights[:, :, -1, :].mean(dim=1)  # (B, T), each row sums to 1
        return self.norm(x), last_row
