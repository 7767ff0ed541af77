"""The multi-task loss: direction classes, forward returns and forward volatility per horizon.

Targets a label cannot know yet (the last bars of a series) are marked missing (-100 for
classes, NaN for values) and left out of the loss, so one batch may mix windows whose longer
horizons are unknown. Returns and volatility are of order 1e-2 on daily bars; dividing by their
training-span standard deviation puts the regression losses on the same scale as the
cross-entropy, so the task weights mean what they say.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.config import LossConfig
from training.curriculum import TaskWeights

MISSING_CLASS = -100  # cross-entropy's ignore_index: the direction label is not known


class Targets(NamedTuple):
    direction: Tensor  # (B, H) int64 class 0 down / 1 flat / 2 up, MISSING_CLASS when unknown
    returns: Tensor  # (B, H) float forward simple return, NaN when unknown
    volatility: Tensor  # (B, H) float forward realised volatility, NaN when unknown


class LossParts(NamedTuple):
    total: Tensor  # weighted sum, what the optimiser sees
    direction: Tensor  # mean cross-entropy over known labels and horizons
    returns: Tensor  # mean scaled Huber loss over known returns
    volatility: Tensor  # mean scaled Huber loss over known volatilities


class MultiTaskLoss(nn.Module):
    """Weighted sum of direction cross-entropy and scaled Huber losses on returns and volatility."""

    def __init__(self, config: LossConfig, return_scale: Tensor, volatility_scale: Tensor):
        super().__init__()
        self.config = config
        self.register_buffer("return_scale", return_scale.float())  # (H,)
        self.register_buffer("volatility_scale", volatility_scale.float())  # (H,)

    def forward(
        self,
        direction_logits: Tensor,  # (B, H, 3)
        returns: Tensor,  # (B, H)
        volatility: Tensor,  # (B, H)
        targets: Targets,
        weights: TaskWeights,
    ) -> LossParts:
        direction = self._direction_loss(direction_logits.float(), targets.direction)
        returns_loss = self._scaled_huber(returns.float(), targets.returns, self.return_scale)
        volatility_loss = self._scaled_huber(
            volatility.float(), targets.volatility, self.volatility_scale
        )
        total = (
            weights.direction * direction
            + weights.returns * returns_loss
            + weights.volatility * volatility_loss
        )
        return LossParts(total, direction, returns_loss, volatility_loss)

    def _direction_loss(self, logits: Tensor, classes: Tensor) -> Tensor:
        known = classes != MISSING_CLASS
        if not known.any():
            return logits.sum() * 0.0
        return F.cross_entropy(
            logits[known], classes[known], label_smoothing=self.config.label_smoothing
        )

    def _scaled_huber(self, predicted: Tensor, target: Tensor, scale: Tensor) -> Tensor:
        known = ~torch.isnan(target)
        if not known.any():
            return predicted.sum() * 0.0
        scaled_error = (predicted - torch.nan_to_num(target)) / scale  # (B, H)
        elementwise = F.huber_loss(
            scaled_error,
            torch.zeros_like(scaled_error),
            delta=self.config.huber_delta,
            reduction="none",
        )
        return elementwise[known].mean()
