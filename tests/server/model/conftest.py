"""Fixtures of the tiny LLaVA (built in `tiny_llava.py`, which the vLLM tier shares)."""

from pathlib import Path
from typing import Any

import pytest
from transformers import LlavaForConditionalGeneration, LlavaProcessor

from locvlm.model.export import export_llava
from tests.server.model.tiny_llava import build_model, build_processor


@pytest.fixture(scope="module")
def sidecar() -> dict[str, Any]:
    """What a real export records: codec, input resolution, task templates, data."""
    return {
        "codec": {"name": "ivb", "params": {"bins": 100}},
        "input_resolution": [32, 32],
        "task_template_version": "1",
        "training_data": "tiny random model, no training",
    }


@pytest.fixture(scope="module")
def tiny_processor() -> LlavaProcessor:
    return build_processor()


@pytest.fixture(scope="module")
def tiny_model(tiny_processor: LlavaProcessor) -> LlavaForConditionalGeneration:
    return build_model(tiny_processor)


@pytest.fixture(scope="module")
def exported(
    tiny_model: LlavaForConditionalGeneration,
    tiny_processor: LlavaProcessor,
    sidecar: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The tiny model exported in fp32 (shared read-only by the tests of a module)."""
    return export_llava(tiny_model, tiny_processor, tmp_path_factory.mktemp("x") / "ckpt", sidecar)
