import json
from pathlib import Path

import pytest

from locvlm.train.cli import _scaled
from locvlm.train.config import TrainConfig, apply_overrides, load_overrides


@pytest.mark.parametrize(
    ("overrides", "check"),
    [
        ({"seed": 3}, lambda c: c.seed == 3),  # top level
        ({"stage2.steps": "50"}, lambda c: c.stage2.steps == 50),  # dotted, string coerced
        (
            {"stage2": {"lr": 5e-4}},
            lambda c: c.stage2.lr == 5e-4 and c.stage2.steps == TrainConfig().stage2.steps,
        ),  # nested dict
        ({"freeze_vision": "false"}, lambda c: c.freeze_vision is False),  # bool from text
        ({"mix": {"locpred": 1.0}}, lambda c: c.mix == {"locpred": 1.0}),  # dict replaced
    ],
)
def test_overrides(overrides: dict[str, object], check) -> None:  # type: ignore[no-untyped-def]
    assert check(apply_overrides(TrainConfig(), overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {"stepz": 1},  # unknown top-level field
        {"stage2.stepz": 1},  # unknown stage field
    ],
)
def test_unknown_overrides_are_errors(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="unknown"):
        apply_overrides(TrainConfig(), overrides)


def test_override_files(tmp_path: Path) -> None:
    (tmp_path / "o.json").write_text(json.dumps({"stage2.steps": 7}))
    (tmp_path / "o.yaml").write_text("stage2:\n  steps: 9\n")
    assert apply_overrides(TrainConfig(), load_overrides(tmp_path / "o.json")).stage2.steps == 7
    assert apply_overrides(TrainConfig(), load_overrides(tmp_path / "o.yaml")).stage2.steps == 9


def test_steps_scale_the_early_stages_down_only() -> None:
    base = TrainConfig()
    small = _scaled(base, 600)
    assert small.stage2.steps == 600
    assert small.stage0.steps == round(base.stage0.steps * 600 / base.stage2.steps)
    big = _scaled(base, 60000)
    assert big.stage0.steps == base.stage0.steps
