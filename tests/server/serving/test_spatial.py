"""`/v1/spatial`'s serving: unknown objects are said so; written evidence is the evidence."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from PIL import Image

from locvlm.coords.relations import Relation
from locvlm.engines.base import GenerationRequest, GenerationResult
from locvlm.model.sidecar import Sidecar
from locvlm.serving.context import ServingContext
from locvlm.serving.spatial import answer_spatial
from locvlm.tasks.base import Obj
from locvlm.tasks.spatial import answer_with_evidence
from locvlm_client import Box
from tests.server.engines.scripted import ScriptedEngine
from tests.server.serving.recording import SIDECAR, RecordingEngine


@pytest.mark.anyio
async def test_a_spatial_question_about_an_unknown_object_says_so():
    engine = RecordingEngine()
    said = await answer_spatial(ServingContext(engine, SIDECAR), Image.new("RGB", (64, 64)),
                                "Is the cat left of the red circle?")  # fmt: skip
    assert (said.answer_type, said.evidence, engine.asked) == ("free", [], [])
    assert "'cat'" in said.answer
    assert "not a category this model knows" in (said.warning or "")


class _Evidencing(ScriptedEngine):
    """A checkpoint that writes its evidence: both boxes, then the side (left)."""

    def __init__(self, sidecar: Sidecar) -> None:
        super().__init__(sidecar)
        self.asked: list[str] = []

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.asked += [r.question for r in requests]
        codec = self.adapter.codec
        objects = [Obj("red circle", RED), Obj("blue square", BLUE)]
        text = answer_with_evidence(Relation.LEFT_OF, objects, codec, (64, 64))
        return [GenerationResult(text, 5, 5) for _ in requests]


RED, BLUE = Box(x1=0, y1=0, x2=16, y2=16), Box(x1=40, y1=40, x2=60, y2=60)


@pytest.mark.anyio
async def test_an_answer_that_writes_its_evidence_is_its_own_evidence():
    sidecar = SIDECAR.replace(spatial_evidence=True)
    engine = _Evidencing(sidecar)
    said = await answer_spatial(ServingContext(engine, sidecar), Image.new("RGB", (64, 64)),
                                "Is the red circle left of the blue square?")  # fmt: skip
    assert len(engine.asked) == 1  # no separate grounding calls to disagree with it
    assert engine.asked == ["Which side of the blue square is the red circle?"]
    assert (said.answer, said.answer_type) == ("yes", "yes_no")  # the side said is the one asked
    cell = engine.adapter.codec.tolerance * 64
    for got, (label, want) in zip(
        said.evidence, [("red circle", RED), ("blue square", BLUE)], strict=True
    ):
        assert got.label == label
        assert all(
            abs(a - b) <= cell for a, b in zip(got.box.to_xyxy(), want.to_xyxy(), strict=True)
        )


@pytest.mark.anyio
async def test_the_opposite_side_answers_no():
    sidecar = SIDECAR.replace(spatial_evidence=True)
    said = await answer_spatial(ServingContext(_Evidencing(sidecar), sidecar),
                                Image.new("RGB", (64, 64)),
                                "Is the red circle right of the blue square?")  # fmt: skip
    assert (said.answer, said.answer_type) == ("no", "yes_no")


class _ListingEvidencing(_Evidencing):
    """Says the red circle is left of the blue square; lists it right of it (`listing`)."""

    def __init__(self, sidecar: Sidecar, listing: str) -> None:
        super().__init__(sidecar)
        self.listing = listing

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        said = await super().generate(requests)
        return [GenerationResult(self.listing, 5, 5) if r.question == "List every object."
                else out for r, out in zip(requests, said, strict=True)]  # fmt: skip


# on a 64 px image, 2 px a bin: the red circle right of the blue square, both once
RIGHT = "blue square [0, 0, 8, 8]; red circle [20, 20, 30, 30]"


@pytest.mark.anyio
@pytest.mark.parametrize("evidence", [True, False])
async def test_a_checkpoint_read_from_its_listing_takes_the_side_from_it(evidence):
    sidecar = SIDECAR.replace(spatial_evidence=evidence, listing=True)  # the listing asked once
    engine = _ListingEvidencing(sidecar, RIGHT)
    said = await answer_spatial(ServingContext(engine, sidecar), Image.new("RGB", (64, 64)),
                                "Is the red circle left of the blue square?")  # fmt: skip
    assert engine.asked == ["Which side of the blue square is the red circle?",
                            "List every object."]  # fmt: skip
    assert (said.answer, said.answer_type) == ("no", "yes_no")  # the listing's side: right
    assert [d.label for d in said.evidence] == ["red circle", "blue square"]
    assert said.evidence[0].box.x1 > said.evidence[1].box.x2  # the listing's boxes
    side = await answer_spatial(ServingContext(engine, sidecar), Image.new("RGB", (64, 64)),
                                "Which side of the blue square is the red circle?")  # fmt: skip
    assert side.answer == "right"


@pytest.mark.anyio
@pytest.mark.parametrize("listing", [
    RIGHT + "; red circle [24, 0, 28, 4]",  # the subject listed twice: which one?
    "blue square [0, 0, 8, 8]; red circle [4, 20, 12, 30]",  # overlapping on the x axis
    "hmm",  # no listing
])  # fmt: skip
async def test_where_the_listing_does_not_place_both_apart_the_models_side_stands(listing):
    sidecar = SIDECAR.replace(spatial_evidence=True, listing=True)
    engine = _ListingEvidencing(sidecar, listing)
    said = await answer_spatial(ServingContext(engine, sidecar), Image.new("RGB", (64, 64)),
                                "Is the red circle left of the blue square?")  # fmt: skip
    assert (said.answer, said.answer_type) == ("yes", "yes_no")
    assert said.evidence[0].box.iou(RED) > 0.5  # its own evidence


@pytest.mark.anyio
async def test_without_written_evidence_a_listing_that_cannot_be_read_grounds_nothing():
    sidecar = SIDECAR.replace(spatial_evidence=False, listing=True)
    engine = _ListingEvidencing(sidecar, "hmm")
    said = await answer_spatial(ServingContext(engine, sidecar), Image.new("RGB", (64, 64)),
                                "Is the red circle left of the blue square?")  # fmt: skip
    assert len(engine.asked) == 2  # the side question and the listing, once
    assert (said.answer, said.evidence) == ("yes", [])  # the model's side; no boxes read
