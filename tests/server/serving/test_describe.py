"""`/v1/describe`'s serving: a checkpoint read from its listing takes categories and relations
from it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from PIL import Image

from locvlm.engines.base import GenerationRequest, GenerationResult
from locvlm.model.sidecar import Sidecar
from locvlm.serving.context import ServingContext
from locvlm.serving.describe import describe
from locvlm_client import Box
from tests.server.serving.recording import SIDECAR, RecordingEngine

# On a 64 px image (2 px a bin): a red circle at the left, a blue square at the right.
LISTING = "red circle [2, 10, 10, 18]; blue square [20, 10, 28, 18]"
CIRCLE = Box.from_xyxy((4, 20, 20, 36))


class _Describer(RecordingEngine):
    """A region answer that names the wrong partner; the listing, or `listing` instead."""

    def __init__(self, listing: str = LISTING, sidecar: Sidecar = SIDECAR) -> None:
        super().__init__(sidecar)
        self.listing = listing

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.asked += [r.question for r in requests]
        return [GenerationResult(self.listing if r.question == "List every object." else
                                 "the red circle above the red circle", 5, 9)
                for r in requests]  # fmt: skip


@pytest.mark.anyio
async def test_in_context_the_relation_comes_from_the_listing_asked_once():
    engine = _Describer(sidecar=SIDECAR.replace(listing=True))
    ctx = ServingContext(engine, engine.sidecar)
    answer = await describe(ctx, Image.new("RGB", (64, 64)), [CIRCLE, CIRCLE])
    assert engine.asked.count("List every object.") == 1
    assert len(engine.asked) == 3  # two regions, one listing
    for result in answer.results:
        assert (result.label, result.description) == ("red circle", "the red circle left of "
                                                      "the blue square")  # fmt: skip
        assert result.raw == "the red circle above the red circle"  # the model's own words


@pytest.mark.anyio
async def test_in_context_the_category_is_the_listed_objects_at_the_region():
    engine = _Describer(
        LISTING.replace("red circle", "green diamond"), SIDECAR.replace(listing=True)
    )
    answer = await describe(ServingContext(engine, engine.sidecar), Image.new("RGB", (64, 64)),
                            [CIRCLE, Box.from_xyxy((4, 40, 20, 56))])  # fmt: skip
    listed, unlisted = answer.results  # the second region: nothing listed there
    assert (listed.label, listed.description) == ("green diamond", "the green diamond left "
                                                  "of the blue square")  # fmt: skip
    assert unlisted.label == "red circle"  # the model's own answer about the region


@pytest.mark.anyio
async def test_without_a_listing_to_read_the_models_own_description_stays():
    for sidecar, listing in ((SIDECAR, LISTING), (SIDECAR.replace(listing=True), "hmm")):
        engine = _Describer(listing, sidecar=sidecar)
        answer = await describe(ServingContext(engine, sidecar), Image.new("RGB", (64, 64)),
                                [CIRCLE])  # fmt: skip
        assert answer.results[0].description == "the red circle above the red circle"


@pytest.mark.anyio
async def test_without_context_the_label_is_the_listed_objects_and_no_relation():
    engine = _Describer(
        LISTING.replace("red circle", "green diamond"), SIDECAR.replace(listing=True)
    )
    answer = await describe(ServingContext(engine, engine.sidecar), Image.new("RGB", (64, 64)),
                            [CIRCLE, Box.from_xyxy((4, 40, 20, 56))], context=False)  # fmt: skip
    assert engine.asked.count("List every object.") == 1
    listed, unlisted = answer.results
    assert (listed.label, listed.description) == ("green diamond", "the green diamond")
    assert (unlisted.label, unlisted.description) == ("red circle", "the red circle")
    plain = _Describer()  # a checkpoint not read from its listing: none asked
    answer = await describe(ServingContext(plain, plain.sidecar), Image.new("RGB", (64, 64)),
                            [CIRCLE], context=False)  # fmt: skip
    assert "List every object." not in plain.asked
    assert answer.results[0].label == "red circle"
