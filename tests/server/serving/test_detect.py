"""`/v1/detect`'s serving: an object the model lists twice comes back once."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from PIL import Image

from locvlm.adapters import Found
from locvlm.engines.base import GenerationRequest, GenerationResult
from locvlm.model.sidecar import Sidecar
from locvlm.serving.context import ServingContext
from locvlm.serving.detect import detect, distinct
from locvlm_client import Box
from tests.server.engines.scripted import ScriptedEngine

SIDECAR = Sidecar(
    codec={"name": "ivb", "bins": 32}, preset="tiny", image_size=64,
    vocabulary=["red circle", "blue square"],
)  # fmt: skip


class _Repeating(ScriptedEngine):
    """Lists the red circle twice (nearly the same box), and the blue square once."""

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        text = "red circle [2, 2, 10, 10]; blue square [20, 20, 30, 30]; red circle [2, 2, 10, 11]"
        return [GenerationResult(text, 5, 5) for _ in requests]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_an_object_listed_twice_is_returned_once():
    ctx = ServingContext(_Repeating(SIDECAR), SIDECAR)
    answer = await detect(ctx, Image.new("RGB", (320, 320)))
    assert [d.label for d in answer.detections] == ["red circle", "blue square"]


def test_boxes_of_other_labels_or_apart_are_kept():
    a = Box(x1=0, y1=0, x2=10, y2=10)
    far = Box(x1=5, y1=5, x2=15, y2=15)  # IoU 25/175
    found = [Found("cat", a), Found("dog", a), Found("cat", far), Found("cat", a)]
    assert distinct(found) == found[:3]
