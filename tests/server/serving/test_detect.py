"""`/v1/detect`'s serving: an object the model lists twice comes back once; confidences."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import pytest
from PIL import Image

from locvlm.adapters import Found
from locvlm.engines.base import GenerationRequest, GenerationResult, TokenLogprob
from locvlm.serving.context import ServingContext
from locvlm.serving.detect import confidences, detect, distinct
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


def test_boxes_of_other_labels_or_apart_are_kept():
    a = Box(x1=0, y1=0, x2=10, y2=10)
    far = Box(x1=5, y1=5, x2=15, y2=15)  # IoU 25/175
    found = [Found("cat", a), Found("dog", a), Found("cat", far), Found("cat", a)]
    assert distinct(found) == found[:3]


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
    got = confidences(result, r"\[\d+, \d+, \d+, \d+\]", 2)
    assert got == [round(math.exp(-0.2), 4), round(math.exp(-1.0), 4)]


def test_no_logprobs_or_a_box_count_that_differs_gives_none() -> None:
    regex = r"\[\d+, \d+, \d+, \d+\]"
    assert confidences(GenerationResult(_TWO, 5, 5), regex, 2) == [None, None]
    result = _scored(_TWO, [(_TWO, -0.5)])
    assert confidences(result, regex, 3) == [None, None, None]
    assert confidences(result, regex, 2) == [round(math.exp(-0.5), 4)] * 2  # one token: both


class _Scoring(ScriptedEngine):
    """Two objects; the token log-probabilities only when asked."""

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        pieces = [("red circle [2, 2, 10, 10]", -0.05), ("; blue square [20, 20, 30, 30]", -1.5)]
        return [
            _scored(_TWO, pieces) if r.logprobs else GenerationResult(_TWO, 5, 2) for r in requests
        ]


@pytest.mark.anyio
async def test_detections_carry_their_confidence() -> None:
    ctx = ServingContext(_Scoring(SIDECAR), SIDECAR)
    answer = await detect(ctx, Image.new("RGB", (320, 320)))
    assert [(d.label, d.confidence) for d in answer.detections] == [
        ("red circle", round(math.exp(-0.05), 4)),
        ("blue square", round(math.exp(-1.5), 4)),
    ]
