"""Localize-then-reason: spatial answers computed from a family's own grounding boxes.

The engine here is an oracle standing in for a Qwen2.5-VL that grounds perfectly: it
answers each grounding or detection prompt with the scene's true boxes in Qwen2.5-VL's
JSON (resized-pixel space), so what is tested is the reasoning over boxes and the
evidence it returns, through the adapter's real prompts and readers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from PIL import Image

from locvlm.engines.base import GenerationRequest, GenerationResult
from locvlm.model.sidecar import Sidecar
from locvlm.serving.context import ServingContext
from locvlm.serving.spatial import answer_spatial
from locvlm_client import Box
from tests.server.engines.scripted import ScriptedEngine

SIZE = (640, 480)
SCENE = {
    "cup": [Box(x1=20, y1=300, x2=120, y2=400)],
    "laptop": [Box(x1=300, y1=200, x2=600, y2=420)],
    "lamp": [Box(x1=40, y1=20, x2=100, y2=120)],
    "pen": [Box(x1=400, y1=20, x2=420, y2=60), Box(x1=500, y1=30, x2=520, y2=70)],
}
SIDECAR = Sidecar(codec={"name": "qwen2_5_vl"}, preset="q", image_size=0, adapter="qwen2_5_vl")
_GROUND = re.compile(r"Locate every (.+) in the image and output")


class _Oracle(ScriptedEngine):
    """Grounds every phrase of `SCENE` exactly; anything else gets prose."""

    name = "oracle"

    def __init__(self) -> None:
        super().__init__(SIDECAR)
        self.asked: list[str] = []

    def _answer(self, request: GenerationRequest) -> str:
        codec, size = self.adapter.codec, request.image.size
        self.asked.append(request.question)
        found = _GROUND.search(request.question)
        if found is not None:
            return codec.encode(SCENE.get(found[1], []), size) or "[]"
        if request.question.startswith("Detect every object"):
            items = [
                codec.encode([box], size)[1:-1][:-1] + f', "label": "{label}"}}'
                for label, boxes in SCENE.items()
                for box in boxes
            ]
            return "[" + ", ".join(items) + "]"
        return "I am not sure."

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        return [GenerationResult(self._answer(r), 5, 5) for r in requests]


async def _ask(question: str):
    engine = _Oracle()
    ctx = ServingContext(engine, SIDECAR)
    return await answer_spatial(ctx, Image.new("RGB", SIZE), question), engine


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("question", "answer", "kind"),
    [
        ("Is the cup to the left of the laptop?", "yes", "yes_no"),
        ("Is the laptop left of the cup?", "no", "yes_no"),
        ("Is the lamp above the cup?", "yes", "yes_no"),
        ("Which side of the laptop is the cup?", "left", "side"),
        ("How many pens are there?", "2", "count"),
        ("What is above the cup?", "lamp and pen", "category"),  # by the top edge alone
    ],
)
async def test_answers_come_from_the_grounded_boxes(question, answer, kind):
    said, _ = await _ask(question)
    assert (said.answer, said.answer_type) == (answer, kind)
    assert said.evidence  # the boxes the answer was computed from


@pytest.mark.anyio
async def test_the_evidence_is_the_boxes_compared():
    said, _ = await _ask("Is the cup to the left of the laptop?")
    got = {d.label: d.box.to_xyxy() for d in said.evidence}
    for label in ("cup", "laptop"):
        assert got[label] == pytest.approx(SCENE[label][0].to_xyxy(), abs=1.0)


@pytest.mark.anyio
async def test_an_object_not_found_sends_the_question_as_it_is():
    said, engine = await _ask("Is the cup to the left of the piano?")
    assert (said.answer, said.answer_type, said.evidence) == ("I am not sure.", "free", [])
    assert engine.asked[-1] == "Is the cup to the left of the piano?"


@pytest.mark.anyio
async def test_a_question_without_a_template_is_free_text():
    said, _ = await _ask("Why is the sky blue?")
    assert (said.answer, said.answer_type) == ("I am not sure.", "free")
