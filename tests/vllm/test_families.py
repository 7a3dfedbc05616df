"""The families vLLM serves, through `locvlm serve --engine vllm` on the real vLLM CPU build.

A tiny random checkpoint of each (`tests.server.model.tiny_families`, no `locvlm.json`)
is served; `/v1/ground` and `/v1/detect` go with the adapter's prompt and constraint
(vLLM's structured outputs), and every answer parses into boxes inside the caller's
image. Families vLLM does not serve are refused when the engine starts.

    LOCVLM_VLLM_TIER=1 .venv-vllm/bin/python -m pytest -m vllm tests/vllm/test_families.py
"""

import importlib.util
from pathlib import Path

import pytest

from locvlm.adapters import ADAPTERS
from locvlm.engines.config import EngineConfig
from locvlm.engines.errors import EngineUnavailableError
from locvlm.engines.vllm_engine import VLLMEngine
from tests.server.api.live import assert_inside, b64, encoded, error_of, launch, scene
from tests.server.model.tiny_families import FAMILIES, build_family

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(600)]

if importlib.util.find_spec("vllm") is None:  # fail loudly: a skip would pass the tier
    pytest.fail("vllm is not importable: run the tier with .venv-vllm/bin/python -m pytest")

SIZES = [(160, 96), (96, 160)]
SERVED = sorted(name for name in FAMILIES if ADAPTERS[name].vllm)
REFUSED = sorted(name for name in FAMILIES if not ADAPTERS[name].vllm)
VLLM_ENV = {
    "VLLM_TARGET_DEVICE": "cpu", "HF_HUB_OFFLINE": "1", "LOCVLM_MAX_MODEL_LEN": "512",
    "LOCVLM_MAX_NUM_SEQS": "4", "LOCVLM_GPU_MEMORY_UTILIZATION": "0.15",
    "LOCVLM_MAX_NEW_TOKENS": "96",
}  # fmt: skip


@pytest.mark.parametrize("name", SERVED)
def test_each_served_family_answers_boxes_in_the_callers_pixels(name, tmp_path):
    model = build_family(name, tmp_path / name)
    server = launch(model, tmp_path, engine="vllm", **VLLM_ENV)
    try:
        server.wait_ready()
        boxes = 0
        with server.client() as client:
            [card] = client.get("/v1/models").json()["data"]
            assert (card["engine"], card["adapter"]) == ("vllm", name)
            for size in SIZES:
                image, objects = scene(size)
                body = {"image": b64(encoded(image))}
                phrase = objects[0].category
                # Several phrases: a random model says "There is no ..." to some of them.
                phrases = sorted({o.category for o in objects} | {"red circle", "blue square"})
                grounded = client.post("/v1/ground", json={**body, "phrases": phrases})
                assert grounded.status_code == 200, grounded.text
                found = [b for r in grounded.json()["results"] for b in r["boxes"]]
                detected = client.post("/v1/detect", json={**body, "categories": [phrase]})
                if "detect" in ADAPTERS[name].tasks:
                    assert detected.status_code == 200, detected.text
                    detections = detected.json()["detections"]
                    found += [d["box"] for d in detections]
                    for d in detections:  # vLLM's log-probabilities of the chosen tokens
                        assert d["confidence"] is None or 0 <= d["confidence"] <= 1, d
                else:
                    assert "cannot do detect" in error_of(detected, 400)["message"]
                for box in found:
                    assert_inside(box, size)
                boxes += len(found)
            metrics = client.get("/metrics").text
        assert boxes > 0
        failures = [
            line
            for line in metrics.splitlines()
            if line.startswith("locvlm_parse_failures_total") and not line.endswith(" 0.0")
        ]
        assert not failures, failures
    finally:
        server.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("name", REFUSED)
async def test_families_vllm_does_not_serve_are_refused(name, tmp_path, monkeypatch):
    monkeypatch.setenv("VLLM_TARGET_DEVICE", "cpu")
    model = build_family(name, tmp_path / name)
    config = EngineConfig(kind="vllm", model=str(Path(model)))
    with pytest.raises(EngineUnavailableError, match="use --engine transformers"):
        await VLLMEngine.create(config)
