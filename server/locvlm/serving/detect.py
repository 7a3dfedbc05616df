"""`POST /v1/detect`: every object (of some categories, or every known one), labelled.

A box the model wrote without a label (a family whose format has none) is `object`.
An object listed twice (the same label, boxes overlapping at IoU > `DUPLICATE_IOU`) is
returned once, at its first mention (`tasks.base.distinct`, the rule every reader of a
listing follows): models repeat items of long listings.

Each detection's `confidence` is the geometric mean of the probabilities the model gave
the tokens that wrote it (its label, its box, the separator before it), before the
constraint masked anything: near 1 where the model was sure of every token, lower where
it hesitated over a label or a coordinate. None when the engine gave no log-probabilities
or the detection cannot be told apart among the boxes of the text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from PIL import Image

from locvlm.adapters import Found
from locvlm.coords import Codec
from locvlm.engines.base import GenerationResult
from locvlm.serving.context import ServingContext
from locvlm.serving.ground import in_space
from locvlm.tasks.base import distinct
from locvlm_client import CoordSpace, Detection, DetectResponse, ImageSize, SizeLike

__all__ = ["confidences", "detect", "scored"]

_SAME_BOX = 0.99  # a read box and the text's box it was read from


def confidences(result: GenerationResult, box_regex: str) -> list[float | None]:
    """The confidence of each box `result.text` writes (found by `box_regex`), in order.

    Box k's tokens are those that end after box k-1 and start before box k ends. All
    None when no log-probability came with the result.
    """
    ends = [m.end() for m in re.finditer(box_regex, result.text)]
    if not result.logprobs:
        return [None] * len(ends)
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


def scored(
    found: Sequence[Found], result: GenerationResult, codec: Codec, size: SizeLike
) -> list[float | None]:
    """The confidence of each of `found` (read from `result.text`, in text order).

    Where the reader kept every box the text writes, the k-th read is the k-th written;
    where it dropped some (repeats), each read box is the next written one it equals.
    """
    scores = confidences(result, codec.box_regex)
    if len(scores) == len(found):
        return scores
    written = [codec.decode(m[0], size) for m in re.finditer(codec.box_regex, result.text)]
    out: list[float | None] = []
    k = 0
    for item in found:
        while k < len(written) and not any(b.iou(item.box) > _SAME_BOX for b in written[k]):
            k += 1
        out.append(scores[k] if k < len(written) else None)
        k += 1
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
    confidence = dict(zip(map(id, found), scored(found, out, adapter.codec, size), strict=True))
    wanted = set(categories or ())
    detections = [
        Detection(
            label=f.label or "object",
            box=in_space(f.box, size, coords),
            confidence=confidence[id(f)],
        )
        for f in distinct(found, lambda f: f.box, lambda a, b: a.label == b.label)
        if not wanted or f.label in wanted
    ]
    ctx.report("detect", parsed is not None, len(detections))
    return DetectResponse(
        image_size=ImageSize(width=size[0], height=size[1]), detections=detections, raw=out.text
    )
