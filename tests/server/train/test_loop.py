"""The learning-rate schedule: warm-up, an optional hold at the peak, cosine decay to 10%."""

from __future__ import annotations

import itertools

import pytest

from locvlm.train.config import StageConfig
from locvlm.train.loop import lr_at


def test_warm_up_then_cosine_to_a_tenth() -> None:
    cfg = StageConfig(steps=1100, lr=1e-3, warmup=100)
    assert lr_at(0, cfg) == pytest.approx(1e-5)
    assert lr_at(99, cfg) == pytest.approx(1e-3)
    assert lr_at(100, cfg) == pytest.approx(1e-3)
    assert lr_at(600, cfg) == pytest.approx(0.55e-3)  # half-way: half-way down
    assert lr_at(1100, cfg) == pytest.approx(1e-4)
    rates = [lr_at(s, cfg) for s in range(100, 1101)]
    assert all(a >= b for a, b in itertools.pairwise(rates))


def test_decay_share_holds_the_peak_until_the_last_part() -> None:
    cfg = StageConfig(steps=1100, lr=1e-3, warmup=100, decay=0.2)
    assert lr_at(500, cfg) == pytest.approx(1e-3)
    assert lr_at(900, cfg) == pytest.approx(1e-3)  # the decay starts at 80% after warm-up
    assert lr_at(1000, cfg) == pytest.approx(0.55e-3)
    assert lr_at(1100, cfg) == pytest.approx(1e-4)


def test_time_progress_runs_the_schedule_ahead() -> None:
    cfg = StageConfig(steps=1100, lr=1e-3, warmup=100, decay=0.5)
    assert lr_at(200, cfg, time_progress=0.25) == pytest.approx(1e-3)
    assert lr_at(200, cfg, time_progress=0.75) == pytest.approx(0.55e-3)
    assert lr_at(200, cfg, time_progress=1.0) == pytest.approx(1e-4)


@pytest.mark.parametrize("decay", [0.0, -0.1, 1.5])
def test_decay_outside_its_range_is_refused(decay: float) -> None:
    with pytest.raises(ValueError, match="decay"):
        StageConfig(steps=10, lr=1e-3, decay=decay)
