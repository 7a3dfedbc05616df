"""The families vLLM serves, through our VLLMEngine on the real vLLM CPU build.

A tiny random checkpoint of each (`tests.server.model.tiny_families`, no `locvlm.json`)
is loaded by vLLM; grounding and detection questions go with the adapter's prompt and
constraint (vLLM's structured outputs), and every answer parses into boxes inside the
caller's image. Families vLLM does not serve are refused at start-up.

    LOCVLM_VLLM_TIER=1 .venv-vllm/bin/python -m pytest -m vllm tests/vllm/test_families.py
"""

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from locvlm.adapters import ADAPTERS
from locvlm.engines.base import Constraint, GenerationRequest
from locvlm.engines.config import EngineConfig
from locvlm.engines.errors import EngineUnavailableError
from locvlm.engines.vllm_engine import VLLMEngine
from tests.server.model.tiny_families import FAMILIES, build_family

pytestmark = [pytest.mark.vllm, pytest.mark.anyio, pytest.mark.timeout(600)]

if importlib.util.find_spec("vllm") is None:  # fail loudly: a skip would pass the tier
    pytest.fail("vllm is not importable: run the tier with .venv-vllm/bin/python -m pytest")

SIZES = [(160, 96), (96, 160)]
SERVED = sorted(name for name in FAMILIES if ADAPTERS[name].vllm)
REFUSED = sorted(name for name in FAMILIES if not ADAPTERS[name].vllm)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def cpu_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VLLM_TARGET_DEVICE", "cpu")
        env.setenv("HF_HUB_OFFLINE", "1")
        yield


def _config(model: Path) -> EngineConfig:
    return EngineConfig(
        kind="vllm", model=str(model), max_model_len=512, max_new_tokens=96,
        max_num_seqs=4, gpu_memory_utilization=0.15,
    )  # fmt: skip


@pytest.mark.parametrize("name", SERVED)
async def test_each_served_family_answers_parseable_boxes(name, tmp_path, cpu_env):
    model = build_family(name, tmp_path / name)
    engine = await VLLMEngine.create(_config(model))
    try:
        adapter = engine.adapter
        assert adapter.name == name
        boxes = 0
        for size in SIZES:
            image = Image.new("RGB", size, (200, 40, 40))
            asked = [adapter.ground("red circle", size)]
            if "detect" in adapter.tasks:
                asked.append(adapter.detect(["red circle", "blue square"], size))
            answers = await engine.generate(
                [GenerationRequest(image, q.text, 96, Constraint(regex=q.regex)) for q in asked]
            )
            grounded = adapter.read_ground(answers[0].text, "red circle", size)
            assert grounded is not None, answers[0].text
            found = list(grounded)
            if len(answers) > 1:
                detected = adapter.read_detect(answers[1].text, size)
                assert detected is not None, answers[1].text
                found += [f.box for f in detected]
            for box in found:
                assert 0 <= box.x1 <= box.x2 <= size[0]
                assert 0 <= box.y1 <= box.y2 <= size[1]
            boxes += len(found)
        assert boxes > 0
    finally:
        await engine.shutdown()


@pytest.mark.parametrize("name", REFUSED)
async def test_families_vllm_does_not_serve_are_refused(name, tmp_path, cpu_env):
    model = build_family(name, tmp_path / name)
    with pytest.raises(EngineUnavailableError, match="use --engine transformers"):
        await VLLMEngine.create(_config(model))
