"""`/v1/ground`'s serving: a phrase outside the vocabulary is not asked, and says why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest
from PIL import Image

from locvlm.coords import get_codec
from locvlm.engines.base import GenerationRequest, GenerationResult
from locvlm.serving.context import ServingContext
from locvlm.serving.ground import ground
from tests.server.serving.recording import SIDECAR, RecordingEngine
from tests.server.serving.test_detect import _CIRCLE, _SQUARE, _TiledLister


@pytest.mark.anyio
async def test_an_unknown_phrase_is_not_found_with_a_warning_and_not_asked():
    engine = RecordingEngine()
    answer = await ground(ServingContext(engine, SIDECAR), Image.new("RGB", (64, 64)),
                          ["the cat", "Red Circle"])  # fmt: skip
    cat, circle = answer.results
    assert (cat.found, cat.boxes, cat.raw) == (False, [], "")
    assert "not a category this model knows" in (cat.warning or "")
    assert (circle.found, circle.warning) == (True, None)
    assert engine.asked == ["Where is the red circle?"]  # normalized to the category


class _Lister(RecordingEngine):
    """Answers every question with a listing: two red circles and a blue square."""

    LISTING = "red circle [0, 0, 8, 8]; blue square [16, 0, 24, 8]; red circle [0, 16, 8, 24]"

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.asked += [r.question for r in requests]
        return [GenerationResult(self.LISTING, 5, 30) for _ in requests]


@pytest.mark.anyio
async def test_a_checkpoint_that_grounds_from_its_listing_is_asked_once_an_image():
    engine = _Lister(SIDECAR.replace(listing=True))
    answer = await ground(ServingContext(engine, engine.sidecar), Image.new("RGB", (64, 64)),
                          ["red circles", "blue square", "the cat"])  # fmt: skip
    circles, square, cat = answer.results
    assert engine.asked == ["List every object."]  # one listing for both known phrases
    boxes = get_codec("ivb", bins=32).decode  # cell centres of a 64 px image, 2 px a bin
    assert circles.boxes == [*boxes("[0, 0, 8, 8]", (64, 64)), *boxes("[0, 16, 8, 24]", (64, 64))]
    assert square.boxes == boxes("[16, 0, 24, 8]", (64, 64))
    assert circles.boxes[1].to_xyxy() == (1.0, 33.0, 17.0, 49.0)
    assert circles.raw == square.raw == _Lister.LISTING
    assert (cat.found, "not a category" in (cat.warning or "")) == (False, True)


class _Misser(RecordingEngine):
    """Lists a blue square only; asked about a phrase on its own, boxes it at `OWN`."""

    LISTING = "blue square [16, 0, 24, 8]"

    def __init__(self, own: str) -> None:
        super().__init__(SIDECAR.replace(listing=True))
        self.own = own

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.asked += [r.question for r in requests]
        return [GenerationResult(self.LISTING if r.question == "List every object." else self.own,
                                 5, 5) for r in requests]  # fmt: skip


@pytest.mark.anyio
async def test_a_phrase_the_listing_missed_is_found_by_a_second_look_where_nothing_is_listed():
    engine = _Misser("[0, 16, 8, 24]")
    answer = await ground(ServingContext(engine, engine.sidecar), Image.new("RGB", (64, 64)),
                          ["red circle", "blue square"])  # fmt: skip
    circle, square = answer.results
    assert engine.asked == ["List every object.", "Where is the red circle?"]  # square listed
    assert circle.boxes == get_codec("ivb", bins=32).decode("[0, 16, 8, 24]", (64, 64))
    assert circle.raw == "[0, 16, 8, 24]"  # the answer its boxes came from
    assert (square.found, square.raw) == (True, _Misser.LISTING)


@pytest.mark.anyio
@pytest.mark.parametrize("own", ["[16, 0, 24, 8]", "There is no red circle."])
async def test_a_second_look_on_a_listed_object_or_saying_none_leaves_the_phrase_not_found(own):
    engine = _Misser(own)  # the box is the listed blue square's: a colour mix-up, not a miss
    answer = await ground(ServingContext(engine, engine.sidecar), Image.new("RGB", (64, 64)),
                          ["red circle"])  # fmt: skip
    (circle,) = answer.results
    assert (circle.found, circle.boxes, circle.raw) == (False, [], _Misser.LISTING)
    assert len(engine.asked) == 2


class _Checked(RecordingEngine):
    """Own answers per phrase (`OWN`), checked against the listing asked beside them."""

    LISTING = "blue square [16, 0, 24, 8]; red circle [0, 16, 8, 24]; red circle [0, 0, 8, 8]"
    OWN: ClassVar[dict[str, str]] = {
        "Where is the red circle?": "[0, 0, 8, 8]",  # one of the two listed: the other added
        "Where is the blue circle?": "[16, 0, 24, 8]",  # the listed blue square: dropped
        "Where is the blue square?": "[40, 40, 48, 48]",  # listed elsewhere: the own box kept
    }

    def __init__(self) -> None:
        known = [*SIDECAR.vocabulary, "blue circle"]
        super().__init__(SIDECAR.replace(listing=True, grounds_from="answer", vocabulary=known))

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.asked += [r.question for r in requests]
        return [GenerationResult(self.OWN.get(r.question, self.LISTING), 5, 5) for r in requests]


@pytest.mark.anyio
async def test_own_answers_are_checked_against_the_listing_asked_in_the_same_call():
    engine = _Checked()
    answer = await ground(ServingContext(engine, engine.sidecar), Image.new("RGB", (64, 64)),
                          ["red circle", "blue circle", "blue square"])  # fmt: skip
    circles, blue_circle, square = answer.results
    assert engine.asked == [*_Checked.OWN, "List every object."]  # one call, listing once
    boxes = get_codec("ivb", bins=32).decode
    size = (64, 64)
    assert circles.boxes == [*boxes("[0, 0, 8, 8]", size), *boxes("[0, 16, 8, 24]", size)]
    assert circles.raw == "[0, 0, 8, 8]"  # the own answer
    assert (blue_circle.found, blue_circle.boxes) == (False, [])  # a mix-up with the square
    assert square.boxes == boxes("[40, 40, 48, 48]", size) + boxes("[16, 0, 24, 8]", size)


class _Tiled(_TiledLister):
    """`_TiledLister` (a 64x128 image: a circle, a square only the crops see, a ghost in
    crop 1) as a checkpoint that grounds in tiles."""

    def __init__(self) -> None:
        super().__init__()
        tiled = {"listing": True, "grounds_from": "answer", "grounds_in_tiles": True}
        self.sidecar = self.sidecar.replace(detects_in_tiles=False, **tiled)


@pytest.mark.anyio
async def test_a_tall_image_s_phrases_are_read_from_its_detection_in_tiles():
    engine = _Tiled()
    image = Image.new("RGB", (64, 128))
    image.putdata([(y, 0, 0) for y in range(128) for _ in range(64)])  # red = the row
    ctx = ServingContext(engine, engine.sidecar)
    answer = await ground(ctx, image, ["red circle", "blue squares", "red circle"])
    circle, square, again = answer.results
    assert circle.boxes == again.boxes
    assert len(circle.boxes) == 1
    assert circle.boxes[0].iou(_CIRCLE) > 0.5
    # the square only crop 2 shows, confirmed by its own question there; not the ghost
    assert len(square.boxes) == 1
    assert square.boxes[0].iou(_SQUARE) > 0.5
    # once for every phrase: the whole image's listing and second look, each crop's
    # listing, then the crops' unsupported squares asked about again
    assert len(engine.calls) == 4 + 2
    assert circle.raw == square.raw
    assert circle.raw.count("\n") == 3


@pytest.mark.anyio
async def test_a_square_image_of_a_tiled_checkpoint_is_asked_whole():
    engine = _Tiled()
    image = Image.new("RGB", (64, 70))
    image.putdata([(0, 0, 0)] * 64 * 69 + [(200, 0, 0)] * 64)  # read as the whole image
    await ground(ServingContext(engine, engine.sidecar), image, ["red circle"])
    assert [[q for _, q in call] for call in engine.calls] == [
        ["Where is the red circle?", "List every object."]
    ]
