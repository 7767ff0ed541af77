"""Curriculum: which tasks train, and how strongly, at each epoch.

Direction is the easiest signal to learn and the one the others lean on, so it trains alone
first; returns and volatility then rise linearly to their configured weights. With the
curriculum off every task trains at its full weight from the first epoch, so runs with and
without it can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass

from training.config import CurriculumConfig, LossConfig


@dataclass(frozen=True)
class TaskWeights:
    direction: float  # weight of the direction cross-entropy
    returns: float  # weight of the return regression loss
    volatility: float  # weight of the volatility regression loss


def full_weights(loss: LossConfig) -> TaskWeights:
    """The configured weights, used when the curriculum is over (and for validation loss)."""
    return TaskWeights(loss.direction_weight, loss.returns_weight, loss.volatility_weight)


def ramp_factor(epoch: int, curriculum: CurriculumConfig) -> float:
    """Share of their full weight that returns and volatility get at `epoch` (0-based)."""
    if not curriculum.enabled:
        return 1.0
    into_ramp = epoch - curriculum.direction_epochs + 1
    if into_ramp <= 0:
        return 0.0
    if curriculum.ramp_epochs <= 0:
        return 1.0
    return min(1.0, into_ramp / curriculum.ramp_epochs)


def task_weights(epoch: int, loss: LossConfig, curriculum: CurriculumConfig) -> TaskWeights:
    """Task weights for training epoch `epoch` (0-based)."""
    factor = ramp_factor(epoch, curriculum)
    full = full_weights(loss)
    return TaskWeights(full.direction, full.returns * factor, full.volatility * factor)
