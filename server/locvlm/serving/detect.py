"""`POST /v1/detect`: every object (of some categories, or every known one), labelled.

A box the model wrote without a label (a family whose format has none) is `object`.
An object listed twice (the same label, boxes overlapping at IoU >= `SAME_OBJECT_IOU`)
is returned once, at its first mention: models repeat items of long listings.

Each detection's `confidence` is the geometric mean of the probabilities the model gave
the tokens that wrote it (its label, its box, the separator before it), before the
constraint masked anything: near 1 where the model was sure of every token, lower where
it hesitated over a label or a coordinate. None when the engine gave no log-probabilities
or the boxes in the text cannot be told apart.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from PIL import Image

from locvlm.adapters import Found
from locvlm.engines.base import GenerationResult
from locvlm.serving.context import ServingContext
from locvlm.serving.ground import in_space
from locvlm_client import CoordSpace, Detection, DetectResponse, ImageSize

__all__ = ["SAME_OBJECT_IOU", "confidences", "detect", "distinct"]

SAME_OBJECT_IOU = 0.7
"""Two boxes of one label overlapping this much are one object listed twice."""


def distinct(found: Sequence[Found]) -> list[Found]:
    """`found` without repeats, in order.

    A later box of a label that overlaps an earlier one of the same label at IoU >=
    `SAME_OBJECT_IOU` is dropped.
    """
    kept: list[Found] = []
    for item in found:
        if not any(k.label == item.label and k.box.iou(item.box) >= SAME_OBJECT_IOU for k in kept):
            kept.append(item)
    return kept


def confidences(result: GenerationResult, box_regex: str, n: int) -> list[float | None]:
    """The confidence of each of the `n` boxes `result.text` lists, in text order.

    Box k's tokens are those that end after box k-1 and start before box k ends. All
    None when the text's boxes (found by `box_regex`) are not `n`, or no log-probability
    came with the result.
    """
    ends = [m.end() for m in re.finditer(box_regex, result.text)]
    if not result.logprobs or len(ends) != n:
        return [None] * n
    out: list[float | None] = []
    start = 0
    for end in ends:
        picked, before = [], 0
        for token in result.logprobs:
            if token.end > start and before < end:
                picked.append(token.logprob)
            before = token.end
        out.append(round(math.exp(sum(picked) / len(picked)), 4) if picked else None)
        start = end
    return out


async def detect(
    ctx: ServingContext,
    image: Image.Image,
    categories: Sequence[str] | None = None,
    coords: CoordSpace = "pixel",
) -> DetectResponse:
    """List the objects with the family's detect prompt; boxes in the requested space."""
    size, adapter = image.size, ctx.adapter
    adapter.require("detect")
    question = adapter.detect(list(categories or ()), size)
    (out,) = await ctx.ask(image, [question.text], [question.regex], logprobs=True)
    parsed = adapter.read_detect(out.text, size)
    found = parsed or []
    scores = confidences(out, adapter.codec.box_regex, len(found))
    scored = {id(f): c for f, c in zip(found, scores, strict=True)}
    wanted = set(categories or ())
    detections = [
        Detection(
            label=f.label or "object", box=in_space(f.box, size, coords), confidence=scored[id(f)]
        )
        for f in distinct(found)
        if not wanted or f.label in wanted
    ]
    ctx.report("detect", parsed is not None, len(detections))
    return DetectResponse(
        image_size=ImageSize(width=size[0], height=size[1]), detections=detections, raw=out.text
    )
