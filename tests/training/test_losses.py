"""Multi-task loss: masking of unknown labels, target scaling, task weights, robustness."""

from __future__ import annotations

import pytest
import torch

from training.config import LossConfig
from training.curriculum import TaskWeights
from training.losses import MISSING_CLASS, MultiTaskLoss, Targets

ALL = TaskWeights(1.0, 1.0, 1.0)


def _batch(seed: int = 0, batch: int = 16):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, 3, 3, generator=generator, requires_grad=True)
    returns = (0.01 * torch.randn(batch, 3, generator=generator)).requires_grad_()
    volatility = (0.02 + 0.005 * torch.randn(batch, 3, generator=generator)).requires_grad_()
    targets = Targets(
        torch.randint(0, 3, (batch, 3), generator=generator),
        0.01 * torch.randn(batch, 3, generator=generator),
        0.02 + 0.005 * torch.rand(batch, 3, generator=generator),
    )
    return logits, returns, volatility, targets


def _loss(scale: float = 0.01, **config) -> MultiTaskLoss:
    return MultiTaskLoss(LossConfig(**config), torch.full((3,), scale), torch.full((3,), scale))


def test_unknown_labels_are_left_out_of_every_task() -> None:
    logits, returns, volatility, targets = _batch()
    loss = _loss()
    full = loss(logits, returns, volatility, targets, ALL)
    # Unknown labels with wild predictions next to them must not change the loss.
    direction = torch.cat([targets.direction, torch.full((4, 3), MISSING_CLASS)])
    padded = Targets(
        direction,
        torch.cat([targets.returns, torch.full((4, 3), float("nan"))]),
        torch.cat([targets.volatility, torch.full((4, 3), float("nan"))]),
    )
    wild = loss(
        torch.cat([logits, 100 * torch.ones(4, 3, 3)]),
        torch.cat([returns, 5 * torch.ones(4, 3)]),
        torch.cat([volatility, 5 * torch.ones(4, 3)]),
        padded,
        ALL,
    )
    for a, b in zip(full, wild, strict=True):
        assert torch.isfinite(b)
        assert b.item() == pytest.approx(a.item(), rel=1e-6)


def test_regression_losses_are_measured_in_target_standard_deviations() -> None:
    logits, returns, volatility, targets = _batch()
    small = _loss(scale=0.01)(logits, returns, volatility, targets, ALL)
    scaled_targets = Targets(targets.direction, 10 * targets.returns, 10 * targets.volatility)
    large = _loss(scale=0.1)(logits, 10 * returns, 10 * volatility, scaled_targets, ALL)
    assert large.returns.item() == pytest.approx(small.returns.item(), rel=1e-5)
    assert large.volatility.item() == pytest.approx(small.volatility.item(), rel=1e-5)
    assert small.returns.item() > 0.1  # of order one, comparable to the cross-entropy


def test_total_is_the_weighted_sum_and_a_zero_weight_stops_the_gradient() -> None:
    logits, returns, volatility, targets = _batch()
    parts = _loss()(logits, returns, volatility, targets, TaskWeights(1.0, 0.0, 2.0))
    expected = parts.direction + 2.0 * parts.volatility
    assert parts.total.item() == pytest.approx(expected.item(), rel=1e-6)
    parts.total.backward()
    assert torch.all(returns.grad == 0)
    assert torch.any(volatility.grad != 0) and torch.any(logits.grad != 0)


def test_huber_grows_linearly_for_outliers() -> None:
    loss = _loss(scale=1.0, huber_delta=1.0)
    logits = torch.zeros(1, 3, 3)
    targets = Targets(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3), torch.zeros(1, 3))
    values = [
        loss(logits, torch.full((1, 3), error), torch.zeros(1, 3), targets, ALL).returns.item()
        for error in (0.5, 10.0, 20.0)
    ]
    assert values[0] == pytest.approx(0.5 * 0.5**2)  # quadratic near zero
    assert values[2] - values[1] == pytest.approx(10.0)  # slope delta far away


def test_perfect_predictions_cost_nothing_but_confident_errors_cost_a_lot() -> None:
    _, _, _, targets = _batch()
    right = torch.nn.functional.one_hot(targets.direction, 3).float() * 50
    loss = _loss()
    perfect = loss(right, targets.returns, targets.volatility, targets, ALL)
    wrong = loss(-right, targets.returns, targets.volatility, targets, ALL)
    assert perfect.total.item() == pytest.approx(0.0, abs=1e-6)
    assert wrong.direction.item() > 10
