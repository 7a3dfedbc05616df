"""`POST /v1/detect`: every object (of some categories, or every known one), labelled.

A box the model wrote without a label (a family whose format has none) is `object`.
An object listed twice (the same label, boxes overlapping at IoU > `DUPLICATE_IOU`) is
returned once, at its first mention (`tasks.base.distinct`, the rule every reader of a
listing follows): models repeat items of long listings. A listing also leaves objects out:
the second look (on unless the request or `LOCVLM_DETECT_SECOND_LOOK` says otherwise)
asks each category its own question in the same engine call and adds, after the listed
objects, the boxes of those answers where nothing is listed; `raw` is the listing's text.

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

from locvlm.adapters import Found, Question
from locvlm.coords import Codec
from locvlm.engines.base import GenerationResult
from locvlm.serving.context import ServingContext
from locvlm.serving.ground import in_space
from locvlm.tasks.base import Obj, distinct
from locvlm.tasks.detect import completed
from locvlm_client import Box, CoordSpace, Detection, DetectResponse, ImageSize, SizeLike

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


def _looks(
    ctx: ServingContext, categories: Sequence[str] | None, size: SizeLike
) -> dict[str, Question]:
    """The second look's question about each category (asked, else every known one).

    Categories outside the vocabulary are not looked for again; none where the family
    takes no second look or an open vocabulary leaves nothing to name.
    """
    adapter = ctx.adapter
    names = [adapter.known(c) for c in categories] if categories else adapter.vocabulary
    asked = {c: adapter.look_again(c, size) for c in dict.fromkeys(n for n in names if n)}
    return {c: q for c, q in asked.items() if q is not None}


def _added(
    ctx: ServingContext,
    categories: Sequence[str],
    results: Sequence[GenerationResult],
    listed: Sequence[Found],
    size: SizeLike,
) -> list[tuple[str, Box, float | None]]:
    """The objects the second look's answers (one per category) add to the listing.

    Each with its category and the confidence of the answer's tokens that wrote its box.
    """
    adapter = ctx.adapter
    answers: dict[str, list[Box]] = {}
    scores: dict[int, float | None] = {}
    for category, result in zip(categories, results, strict=True):
        boxes = answers[category] = adapter.read_look_again(result.text, size)
        read = [Found(category, b) for b in boxes]
        scores.update(zip(map(id, boxes), scored(read, result, adapter.codec, size), strict=True))
    seen = [Obj(f.label or "", f.box) for f in listed]
    return [(o.category, o.box, scores[id(o.box)]) for o in completed(seen, answers)]


async def detect(
    ctx: ServingContext,
    image: Image.Image,
    categories: Sequence[str] | None = None,
    coords: CoordSpace = "pixel",
    second_look: bool = True,
) -> DetectResponse:
    """List the objects with the family's detect prompt; boxes in the requested space.

    With `second_look`, each category (of `categories`, else of the vocabulary) is also
    asked about on its own in the same engine call (`Adapter.look_again`), and the boxes
    of those answers where the listing has no object are added after the listed ones
    (`tasks.detect.completed`): a listing of many objects misses some.
    """
    size, adapter = image.size, ctx.adapter
    adapter.require("detect")
    question = adapter.detect(list(categories or ()), size)
    looks = _looks(ctx, categories, size) if second_look else {}
    asked = [question, *looks.values()]
    out, *again = await ctx.ask(
        image, [q.text for q in asked], [q.regex for q in asked], logprobs=True
    )
    parsed = adapter.read_detect(out.text, size)
    found = parsed or []
    confidence = dict(zip(map(id, found), scored(found, out, adapter.codec, size), strict=True))
    wanted = set(categories or ())
    unique = distinct(found, lambda f: f.box, lambda a, b: a.label == b.label)
    listed = [
        (f.label, f.box, confidence[id(f)]) for f in unique if not wanted or f.label in wanted
    ]
    added = _added(ctx, list(looks), again, unique, size)
    detections = [
        Detection(label=label or "object", box=in_space(box, size, coords), confidence=score)
        for label, box, score in [*listed, *added]
    ]
    ctx.report("detect", parsed is not None, len(detections))
    return DetectResponse(
        image_size=ImageSize(width=size[0], height=size[1]), detections=detections, raw=out.text
    )
