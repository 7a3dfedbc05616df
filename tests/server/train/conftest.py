from typing import Any

import pytest

from locvlm.train.config import StageConfig, TrainConfig

MICRO_MODEL: dict[str, Any] = {
    "vision": {"image_size": 32, "patch_size": 8, "hidden": 32, "layers": 1, "heads": 1, "mlp": 64},
    "text": {"hidden": 64, "layers": 1, "heads": 1, "mlp": 128, "max_positions": 256},
    "vocab_size": 400,
}


@pytest.fixture
def micro_config() -> TrainConfig:
    """A model and schedule small enough for a unit test (seconds on a CPU)."""
    return TrainConfig(
        model=MICRO_MODEL,
        tokenizer_scenes=60,
        stage0=StageConfig(steps=3, lr=3e-3, batch_size=8, warmup=1),
        stage1=StageConfig(steps=2, lr=1e-3, batch_size=4, warmup=1),
        symbolic=StageConfig(steps=2, lr=1e-3, batch_size=4, warmup=1),
        stage2=StageConfig(steps=4, lr=1e-3, batch_size=4, warmup=1),
        eval_every=4,
        eval_per_task=1,
        checkpoint_every=2,
    )
