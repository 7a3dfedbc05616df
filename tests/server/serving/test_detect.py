"""`/v1/detect`'s serving: an object the model lists twice comes back once; confidences."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import pytest
from PIL import Image

from locvlm.adapters import Found
from locvlm.coords import get_codec
from locvlm.engines.base import GenerationRequest, GenerationResult, TokenLogprob
from locvlm.serving.context import ServingContext
from locvlm.serving.detect import confidences, detect, scored
from locvlm_client import Box
from tests.server.engines.scripted import ScriptedEngine
from tests.server.serving.recording import SIDECAR


class _Repeating(ScriptedEngine):
    """Lists the red circle twice (nearly the same box), and the blue square once."""

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        text = "red circle [2, 2, 10, 10]; blue square [20, 20, 30, 30]; red circle [2, 2, 10, 11]"
        return [GenerationResult(text, 5, 5) for _ in requests]


@pytest.mark.anyio
async def test_an_object_listed_twice_is_returned_once():
    ctx = ServingContext(_Repeating(SIDECAR), SIDECAR)
    answer = await detect(ctx, Image.new("RGB", (320, 320)))
    assert [d.label for d in answer.detections] == ["red circle", "blue square"]


_TWO = "red circle [2, 2, 10, 10]; blue square [20, 20, 30, 30]"


def _scored(text: str, pieces: list[tuple[str, float]]) -> GenerationResult:
    """`text` as written by `pieces` (each token's text and log-probability)."""
    assert "".join(p for p, _ in pieces) == text
    ends = list(itertools.accumulate(len(p) for p, _ in pieces))
    logprobs = tuple(TokenLogprob(e, lp) for e, (_, lp) in zip(ends, pieces, strict=True))
    return GenerationResult(text, 5, len(pieces), logprobs=logprobs)


def test_each_box_scores_the_tokens_that_wrote_it() -> None:
    first = [("red circle", -0.1), (" [2, 2, 10, 10]", -0.3)]
    second = [(";", 0.0), (" blue square", -1.0), (" [20, 20, 30, 30]", -2.0)]
    result = _scored(_TWO, first + second)
    got = confidences(result, r"\[\d+, \d+, \d+, \d+\]")
    assert got == [round(math.exp(-0.2), 4), round(math.exp(-1.0), 4)]


def test_no_logprobs_gives_none_and_one_token_scores_every_box_it_wrote() -> None:
    regex = r"\[\d+, \d+, \d+, \d+\]"
    assert confidences(GenerationResult(_TWO, 5, 5), regex) == [None, None]
    result = _scored(_TWO, [(_TWO, -0.5)])
    assert confidences(result, regex) == [round(math.exp(-0.5), 4)] * 2


_LOOP = f"{_TWO}; red circle [2, 2, 10, 10]; green circle [40, 40, 50, 50]"


def test_a_read_box_scores_as_the_written_box_it_was_read_from() -> None:
    codec, size = get_codec("ivb", bins=64), (64, 64)  # 1 px a bin
    pieces = [
        ("red circle [2, 2, 10, 10]", -0.1),
        ("; blue square [20, 20, 30, 30]", -1.0),
        ("; red circle [2, 2, 10, 10]", -2.0),
        ("; green circle [40, 40, 50, 50]", -3.0),
    ]
    result = _scored(_LOOP, pieces)
    read = [Found(label, codec.decode(box, size)[0]) for label, box in
            [("red circle", "[2, 2, 10, 10]"), ("blue square", "[20, 20, 30, 30]"),
             ("green circle", "[40, 40, 50, 50]")]]  # fmt: skip
    assert scored(read, result, codec, size) == [round(math.exp(lp), 4) for lp in (-0.1, -1, -3)]
    assert scored([*read[:2], read[0], read[2]], result, codec, size) == [
        round(math.exp(lp), 4) for lp in (-0.1, -1, -2, -3)
    ]  # every written box read: in order
    assert scored([Found("cat", codec.decode("[1, 1, 60, 60]", size)[0])], result, codec, size) == [
        None
    ]  # a box the text never wrote


class _Scoring(ScriptedEngine):
    """Two objects, the first listed twice; the token log-probabilities only when asked."""

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        pieces = [("red circle [2, 2, 10, 10]", -0.05), ("; blue square [20, 20, 30, 30]", -1.5),
                  ("; red circle [2, 2, 10, 10]", -3.0)]  # fmt: skip
        text = "".join(p for p, _ in pieces)  # the red circle again: a loop
        return [
            _scored(text, pieces) if r.logprobs else GenerationResult(text, 5, 2) for r in requests
        ]


@pytest.mark.anyio
async def test_detections_carry_their_confidence() -> None:
    ctx = ServingContext(_Scoring(SIDECAR), SIDECAR)
    answer = await detect(ctx, Image.new("RGB", (320, 320)))
    assert [(d.label, d.confidence) for d in answer.detections] == [
        ("red circle", round(math.exp(-0.05), 4)),
        ("blue square", round(math.exp(-1.5), 4)),
    ]


class _Missing(ScriptedEngine):
    """Lists the red circle only; asked on its own, each category shows what it adds.

    The blue square's answer finds a square where nothing is listed and one on the
    listed circle (a mix-up); the red circle's answer finds the listed circle again.
    """

    def __init__(self) -> None:
        super().__init__(SIDECAR)
        self.calls: list[list[str]] = []

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.calls.append([r.question for r in requests])
        return [GenerationResult(self._answer(r.question), 5, 5) for r in requests]

    @staticmethod
    def _answer(question: str) -> str:
        if "blue square" in question:
            return "[2, 2, 10, 10] [20, 20, 30, 30]"
        if "red circle" in question:
            return "[2, 2, 10, 10]"
        return "red circle [2, 2, 10, 10]"  # the listing


@pytest.mark.anyio
async def test_the_second_look_adds_what_the_listing_missed_in_the_same_call() -> None:
    engine = _Missing()
    ctx = ServingContext(engine, SIDECAR)
    answer = await detect(ctx, Image.new("RGB", (64, 64)))  # ivb 32 bins: bin centres read
    assert [(d.label, d.box.to_xyxy()) for d in answer.detections] == [
        ("red circle", (5, 5, 21, 21)),
        ("blue square", (41, 41, 61, 61)),
    ]
    assert [len(asked) for asked in engine.calls] == [3]  # one call: listing + 2 categories
    assert answer.raw == "red circle [2, 2, 10, 10]"


@pytest.mark.anyio
async def test_the_second_look_asks_only_known_requested_categories_or_none() -> None:
    engine = _Missing()
    ctx = ServingContext(engine, SIDECAR)
    answer = await detect(ctx, Image.new("RGB", (64, 64)), ["Blue squares", "green star"])
    assert [d.label for d in answer.detections] == ["blue square"]
    assert len(engine.calls[0]) == 2  # the listing, and the one known category
    alone = await detect(ctx, Image.new("RGB", (64, 64)), second_look=False)
    assert [d.label for d in alone.detections] == ["red circle"]
    assert len(engine.calls[1]) == 1


_CODEC = get_codec("ivb", bins=32)
_CIRCLE = Box(x1=10, y1=10, x2=22, y2=22)  # in the 64x128 image: whole in crop 0
_SQUARE = Box(x1=40, y1=90, x2=56, y2=106)  # whole in crop 2 (y 64-128) only
_GHOST = Box(x1=6, y1=40, x2=22, y2=56)  # crop 1 (y 32-96) lists a square that is not there


class _TiledLister(ScriptedEngine):
    """A checkpoint that detects in tiles, shown a 64x128 image whose red is its row.

    The whole image's listing and second look find only the circle; each crop lists what
    lies whole in it (crop 1 a ghost square too); asked on its own about a crop, the
    blue square is found in crop 2 only. Which image is asked is read from its pixels.
    """

    def __init__(self) -> None:
        super().__init__(SIDECAR.replace(detects_in_tiles=True))
        self.calls: list[list[tuple[str, str]]] = []

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        asked = [(self._which(r.image), r.question) for r in requests]
        self.calls.append(asked)
        return [GenerationResult(self._answer(*a), 5, 5) for a in asked]

    @staticmethod
    def _which(image: Image.Image) -> str:
        top, bottom = image.getpixel((0, 0))[0], image.getpixel((0, 63))[0]
        return "whole" if bottom - top > 100 else f"crop {top // 32}"

    @staticmethod
    def _answer(where: str, question: str) -> str:
        def at(box: Box, top: int = 0) -> str:
            moved = Box(x1=box.x1, y1=box.y1 - top, x2=box.x2, y2=box.y2 - top)
            return _CODEC.encode([moved], (64, 128) if where == "whole" else (64, 64))

        listing = "List" in question
        if where == "whole":
            return f"red circle {at(_CIRCLE)}" if listing or "red" in question else "none"
        crop = int(where[-1])
        if listing:
            return {0: f"red circle {at(_CIRCLE)}", 1: f"blue square {at(_GHOST, 32)}",
                    2: f"blue square {at(_SQUARE, 64)}"}[crop]  # fmt: skip
        return at(_SQUARE, 64) if crop == 2 and "blue square" in question else "none"


@pytest.mark.anyio
async def test_a_tall_image_is_listed_in_square_crops_whose_unsupported_objects_are_asked_again():
    engine = _TiledLister()
    image = Image.new("RGB", (64, 128))
    image.putdata([(y, 0, 0) for y in range(128) for _ in range(64)])
    answer = await detect(ServingContext(engine, engine.sidecar), image)
    # the circle from crop 0 (the whole image's answers have it too); the square from
    # crop 2, found again by its own question there; crop 1's ghost square dropped
    got = [(d.label, d.box) for d in answer.detections]
    assert [label for label, _ in got] == ["red circle", "blue square"]
    assert got[0][1].iou(_CIRCLE) > 0.5  # bins of 2 px (crops) or 4 px (the whole, in y)
    assert got[1][1].iou(_SQUARE) > 0.5
    first, second = engine.calls[:4], engine.calls[4:]
    # at once: the whole image's listing and second look, and each crop's listing
    assert sorted(first) == sorted([
        [("whole", "List every object."), ("whole", "Where is the red circle?"),
         ("whole", "Where is the blue square?")],
        *[[(f"crop {k}", "List every object.")] for k in (0, 1, 2)],
    ])  # fmt: skip
    # then the square, on each crop that listed it without support, once a crop
    assert sorted(second) == [[("crop 1", "Where is the blue square?")],
                              [("crop 2", "Where is the blue square?")]]  # fmt: skip
    assert answer.raw.count("\n") == 3  # the whole image's listing, then each crop's


@pytest.mark.anyio
async def test_a_square_image_of_a_tiled_checkpoint_is_listed_whole():
    engine = _TiledLister()
    image = Image.new("RGB", (64, 64))
    image.putdata([(0, 0, 0)] * 64 * 63 + [(200, 0, 0)] * 64)  # read as the whole image
    answer = await detect(ServingContext(engine, engine.sidecar), image)
    assert [len(call) for call in engine.calls] == [3]  # the listing and two categories
    assert [d.label for d in answer.detections] == ["red circle"]
