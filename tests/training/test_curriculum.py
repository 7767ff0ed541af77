"""The curriculum gives direction alone first, then ramps returns and volatility in linearly."""

from __future__ import annotations

import pytest

from contract.errors import ArtifactError
from training.config import CurriculumConfig, LossConfig, apply_overrides, load_profile
from training.curriculum import task_weights
from training.models.variants import build_model

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


def test_profiles_load_and_fields_are_overridden_by_name() -> None:
    quick = load_profile("quick")
    assert quick.optim.time_budget_s > 0 and quick.curriculum.enabled
    assert load_profile("full").optim.max_epochs == 100
    assert load_profile("full").optim.batch_size == 64
    # What `--no-curriculum` and `--set patience=5` do.
    changed = apply_overrides(quick, {"curriculum.enabled": "false", "patience": "5"})
    assert not changed.curriculum.enabled and changed.optim.patience == 5
    assert quick.curriculum.enabled  # configs are frozen values, never changed in place
    with pytest.raises(ArtifactError, match="no such config field"):
        apply_overrides(quick, {"pateince": "5"})
    with pytest.raises(ArtifactError, match="expected"):
        apply_overrides(quick, {"patience": "soon"})


def test_a_variants_model_fields_are_overridden_by_path() -> None:
    """`--set model.hybrid.xlstm.layout=mmsm`: the layout comparison's reference run."""
    tiny = load_profile("tiny")
    changed = apply_overrides(tiny, {"model.hybrid.xlstm.layout": "ms",
                                     "model.simplex.heads.hidden": "24"})
    hybrid = changed.model_overrides("hybrid")
    assert hybrid["xlstm"] == {**tiny.model["hybrid"]["xlstm"], "layout": "ms"}
    assert hybrid["fusion_width"] == tiny.model["hybrid"]["fusion_width"]
    assert changed.model_overrides("simplex")["heads"]["hidden"] == 24  # read as TOML: an int
    assert tiny.model["hybrid"]["xlstm"]["layout"] == "mm"  # the profile itself is unchanged
    model = build_model("hybrid", 4, **hybrid)
    assert [type(block).__name__ for block in model.xlstm.blocks] == ["MLSTMBlock", "SLSTMBlock"]
    with pytest.raises(ArtifactError, match="model.<variant>.<field>"):
        apply_overrides(tiny, {"model.hybrid": "x"})
