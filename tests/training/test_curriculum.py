"""The curriculum gives direction alone first, then ramps returns and volatility in linearly."""

from __future__ import annotations

import pytest

from training.config import CurriculumConfig, LossConfig
from training.curriculum import task_weights

LOSS = LossConfig(direction_weight=1.0, returns_weight=2.0, volatility_weight=0.5)


def test_direction_trains_alone_then_the_other_tasks_ramp_to_full_weight() -> None:
    curriculum = CurriculumConfig(enabled=True, direction_epochs=2, ramp_epochs=4)
    weights = [task_weights(epoch, LOSS, curriculum) for epoch in range(8)]
    assert [w.direction for w in weights] == [1.0] * 8
    assert [w.returns for w in weights] == pytest.approx([0, 0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0])
    assert [w.volatility for w in weights] == pytest.approx(
        [0, 0, 0.125, 0.25, 0.375, 0.5, 0.5, 0.5]
    )


def test_without_ramp_the_other_tasks_switch_on_at_once() -> None:
    curriculum = CurriculumConfig(enabled=True, direction_epochs=3, ramp_epochs=0)
    assert [task_weights(e, LOSS, curriculum).returns for e in range(5)] == [0, 0, 0, 2.0, 2.0]


def test_switched_off_every_task_has_full_weight_from_the_first_epoch() -> None:
    curriculum = CurriculumConfig(enabled=False, direction_epochs=5, ramp_epochs=5)
    for epoch in (0, 1, 7):
        weights = task_weights(epoch, LOSS, curriculum)
        assert (weights.direction, weights.returns, weights.volatility) == (1.0, 2.0, 0.5)
