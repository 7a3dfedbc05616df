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
