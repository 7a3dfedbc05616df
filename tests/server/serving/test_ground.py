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


class _Tiled(RecordingEngine):
    """A tiled checkpoint: each crop's own answers by where the crop starts (its top row's
    red), the listing of the whole image; every question and image kept."""

    LISTING = "blue square [20, 9, 28, 13]"  # x 40-58, y 36-56 of the 64x128 image
    OWN: ClassVar[dict[tuple[str, int], str]] = {
        ("Where is the red circle?", 0): "[2, 2, 10, 10]; [2, 28, 10, 31]",  # one at the cut
        ("Where is the red circle?", 64): "[2, 20, 10, 28]",  # a second one, lower down
        ("Where is the blue circle?", 32): "[20, 2, 28, 10]",  # on the listed blue square
    }

    def __init__(self) -> None:
        known = [*SIDECAR.vocabulary, "blue circle"]
        super().__init__(SIDECAR.replace(listing=True, grounds_from="answer", vocabulary=known,
                                         grounds_in_tiles=True))  # fmt: skip

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.asked += [r.question for r in requests]
        self.images += [r.image for r in requests]
        out = []
        for r in requests:
            start = min((0, 32, 64), key=lambda s: abs(s - r.image.getpixel((0, 0))[0]))
            text = self.OWN.get((r.question, start), "There is no such thing.")
            out.append(GenerationResult(self.LISTING if "List" in r.question else text, 5, 5))
        return out


@pytest.mark.anyio
async def test_a_tall_image_is_grounded_on_square_crops_checked_by_the_whole_listing():
    engine = _Tiled()
    image = Image.new("RGB", (64, 128))
    image.putdata([(y, 0, 0) for y in range(128) for _ in range(64)])  # red = the row
    answer = await ground(ServingContext(engine, engine.sidecar), image,
                          ["red circle", "blue circle"])  # fmt: skip
    circles, blue_circle = answer.results
    # each phrase on each of three crops, the listing once on the whole (squashed) image
    assert sorted(engine.asked) == sorted(
        ["Where is the red circle?", "Where is the blue circle?"] * 3 + ["List every object."]
    )
    assert all(im.size == (64, 64) for im in engine.images)
    # the red circles: the first crop's whole one and the last crop's, in image pixels;
    # the first crop's box at its cut is dropped (that object may be cut in two)
    assert len(circles.boxes) == 2
    first, second = sorted(circles.boxes, key=lambda b: b.y1)
    assert first.y2 < 32 < 96 < second.y1
    assert circles.raw.count("\n") == 2  # one answer a crop
    assert (blue_circle.found, blue_circle.boxes) == (False, [])  # the listed blue square


@pytest.mark.anyio
async def test_a_square_image_of_a_tiled_checkpoint_is_asked_whole():
    engine = _Tiled()
    await ground(ServingContext(engine, engine.sidecar), Image.new("RGB", (64, 70)), ["red circle"])
    assert engine.asked == ["Where is the red circle?", "List every object."]
