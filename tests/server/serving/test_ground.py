"""`/v1/ground`'s serving: a phrase outside the vocabulary is not asked, and says why."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from PIL import Image

from locvlm.engines.base import GenerationRequest, GenerationResult
from locvlm.model.sidecar import Sidecar
from locvlm.serving.context import ServingContext
from locvlm.serving.ground import ground
from tests.server.engines.scripted import ScriptedEngine

SIDECAR = Sidecar(
    codec={"name": "ivb", "bins": 32}, preset="tiny", image_size=64,
    vocabulary=["red circle", "blue square"],
)  # fmt: skip


class _Recording(ScriptedEngine):
    """Answers every question with one box, and keeps the questions."""

    def __init__(self) -> None:
        super().__init__(SIDECAR)
        self.asked: list[str] = []

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.asked += [r.question for r in requests]
        return [GenerationResult("[2, 2, 10, 10]", 5, 5) for _ in requests]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_an_unknown_phrase_is_not_found_with_a_warning_and_not_asked():
    engine = _Recording()
    answer = await ground(ServingContext(engine, SIDECAR), Image.new("RGB", (64, 64)),
                          ["the cat", "Red Circle"])  # fmt: skip
    cat, circle = answer.results
    assert (cat.found, cat.boxes, cat.raw) == (False, [], "")
    assert "not a category this model knows" in (cat.warning or "")
    assert (circle.found, circle.warning) == (True, None)
    assert engine.asked == ["Where is the red circle?"]  # normalized to the category
