"""What turns sequence summaries into predictions: temporal pooling, fusion, multi-task heads.

Every variant ends in the same ``MultiTaskHeads``, so every variant returns the same four
outputs: direction logits per horizon, expected returns, and non-negative volatility.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from contract.model import HORIZONS, N_CLASSES

N_HORIZONS = len(HORIZONS)  # forward horizons 1, 4 and 24 bars


@dataclass(frozen=True)
class HeadsConfig:
    hidden: int = 256  # width of each task's hidden layer
    dropout: float = 0.1  # dropout before each task's output layer (training only)


class TemporalAttentionPool(nn.Module):
    """Learned attention over time: a weighted mean of the steps, with the weights returned."""

    def __init__(self, d_model: int):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(d_model, d_model), nn.Tanh(), nn.Linear(d_model, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (B, T, D)
        weights = torch.softmax(self.score(x).squeeze(-1), dim=-1)  # (B, T), sums to 1
        pooled = (weights.unsqueeze(-1) * x).sum(dim=1)  # (B, D)
        return pooled, weights


class Fusion(nn.Module):
    """Concatenate the branch summaries and mix them: norm, linear, GeLU, linear."""

    def __init__(self, in_width: int, out_width: int):
        super().__init__()
        self.mix = nn.Sequential(
            nn.LayerNorm(in_width),
            nn.Linear(in_width, out_width),
            nn.GELU(),
            nn.Linear(out_width, out_width),
        )

    def forward(self, parts: list[torch.Tensor]) -> torch.Tensor:  # [(B, D_i)] -> (B, D_out)
        return self.mix(torch.cat(parts, dim=-1))


def task_head(in_width: int, config: HeadsConfig, outputs: int) -> nn.Sequential:
    """One task's small MLP: linear, GeLU, dropout, linear."""
    return nn.Sequential(
        nn.Linear(in_width, config.hidden),
        nn.GELU(),
        nn.Dropout(config.dropout),
        nn.Linear(config.hidden, outputs),
    )


class MultiTaskHeads(nn.Module):
    """Direction (3 horizons x 3 classes), returns (3) and volatility (3, softplus >= 0)."""

    def __init__(self, in_width: int, config: HeadsConfig):
        super().__init__()
        self.direction = task_head(in_width, config, N_HORIZONS * N_CLASSES)
        self.returns = task_head(in_width, config, N_HORIZONS)
        self.volatility = task_head(in_width, config, N_HORIZONS)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        direction = self.direction(x).reshape(-1, N_HORIZONS, N_CLASSES)  # (B, 3, 3)
        return direction, self.returns(x), F.softplus(self.volatility(x))  # (B, 3) each
