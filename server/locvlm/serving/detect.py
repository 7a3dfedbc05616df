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
from dataclasses import dataclass

from PIL import Image

from locvlm.adapters import Found, Question
from locvlm.coords import Codec
from locvlm.engines.base import GenerationResult
from locvlm.serving.context import ServingContext
from locvlm.serving.space import in_space
from locvlm.serving.together import together
from locvlm.tasks import tiles
from locvlm.tasks.base import Obj, distinct
from locvlm.tasks.detect import completed
from locvlm.tasks.tiles import Crop
from locvlm_client import Box, CoordSpace, Detection, DetectResponse, ImageSize, SizeLike

__all__ = ["Detected", "confidences", "detect", "detected", "scored"]

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


def _read_looks(
    ctx: ServingContext,
    categories: Sequence[str],
    results: Sequence[GenerationResult],
    size: SizeLike,
) -> tuple[dict[str, list[Box]], dict[int, float | None]]:
    """Each category's boxes from its second-look answer, and each box's confidence (by id)."""
    adapter = ctx.adapter
    answers: dict[str, list[Box]] = {}
    scores: dict[int, float | None] = {}
    for category, result in zip(categories, results, strict=True):
        boxes = answers[category] = adapter.read_look_again(result.text, size)
        read = [Found(category, b) for b in boxes]
        scores.update(zip(map(id, boxes), scored(read, result, adapter.codec, size), strict=True))
    return answers, scores


Scored = tuple[str | None, Box, float | None]
"""A detection before it is put in the caller's space: label, box, confidence."""


def _listed(ctx: ServingContext, out: GenerationResult, size: SizeLike) -> list[Scored] | None:
    """A listing's objects, repeats once, each with its confidence; None when unreadable."""
    found = ctx.adapter.read_detect(out.text, size)
    if found is None:
        return None
    confidence = dict(zip(map(id, found), scored(found, out, ctx.codec, size), strict=True))
    unique = distinct(found, lambda f: f.box, lambda a, b: a.label == b.label)
    return [(f.label, f.box, confidence[id(f)]) for f in unique]


async def _tiled(
    ctx: ServingContext,
    pieces: Sequence[tuple[Crop, Image.Image]],
    listings: Sequence[GenerationResult],
    whole: Sequence[Scored],
    looks: dict[str, list[Box]],
    size: SizeLike,
) -> list[Scored]:
    """The crops' listings as one listing of the image (`tasks.tiles.listed`).

    A crop's object that the whole image's answers do not support is asked about again,
    on that crop, by its category's own question (`Adapter.look_again`), all at once.
    """
    adapter = ctx.adapter
    read = [_listed(ctx, out, piece.size) or []
            for (_, piece), out in zip(pieces, listings, strict=True)]  # fmt: skip
    objects = [(crop, [Obj(label or "", box) for label, box, _ in r])
               for (crop, _), r in zip(pieces, read, strict=True)]  # fmt: skip
    seen = [Obj(label or "", box) for label, box, _ in whole]
    asked: dict[tuple[int, str], Question] = {}
    for k, category in tiles.to_confirm(objects, seen, looks, size):
        if (q := adapter.look_again(category, pieces[k][1].size)) is not None:
            asked[(k, category)] = q
    crops = sorted({k for k, _ in asked})
    per_crop = [[(key, q) for key, q in asked.items() if key[0] == k] for k in crops]
    answered = await together(*(
        ctx.ask(pieces[k][1], [q.text for _, q in qs], [q.regex for _, q in qs])
        for k, qs in zip(crops, per_crop, strict=True)
    ))  # fmt: skip
    crop_looks = {
        key: adapter.read_look_again(out.text, pieces[key[0]][1].size)
        for qs, outs in zip(per_crop, answered, strict=True)
        for (key, _), out in zip(qs, outs, strict=True)
    }
    kept = tiles.listed(objects, seen, looks, crop_looks, size)
    return [(o.category, o.box, read[k][i][2]) for k, i, o in kept]


@dataclass(frozen=True)
class Detected:
    """What the listing (and its second look) found: each object with its confidence."""

    objects: list[Scored]  # the listed ones, then those the second look added
    raw: str  # the listing's text (with tiles: the whole image's, then each crop's)
    parsed: bool  # the whole image's listing could be read


async def detected(
    ctx: ServingContext,
    image: Image.Image,
    categories: Sequence[str] | None = None,
    second_look: bool = True,
    crops: Sequence[Crop] = (),
) -> Detected:
    """The objects the family's listing finds, in the image's pixels.

    With `second_look`, each category (of `categories`, else of the vocabulary) is also
    asked about on its own in the same engine call (`Adapter.look_again`), and the boxes
    of those answers where the listing has no object are added after the listed ones
    (`tasks.detect.completed`): a listing of many objects misses some. With `crops`
    (`Adapter.detect_crops`: a non-square image's square crops), each crop is listed
    too, at the same time, and the crops' objects, checked, are the listing
    (`tasks.tiles.listed`).
    """
    size, adapter = image.size, ctx.adapter
    adapter.require("detect")
    question = adapter.detect(list(categories or ()), size)
    looks = _looks(ctx, categories, size) if second_look else {}
    asked = [question, *looks.values()]
    pieces = [(c, image.crop(c)) for c in crops]
    listings = [adapter.detect(list(categories or ()), piece.size) for _, piece in pieces]
    (out, *again), *crop_listings = await together(
        ctx.ask(image, [q.text for q in asked], [q.regex for q in asked], logprobs=True),
        *(ctx.ask(piece, [q.text], [q.regex], logprobs=True)
          for (_, piece), q in zip(pieces, listings, strict=True)),
    )  # fmt: skip
    answers, scores = _read_looks(ctx, list(looks), again, size)
    whole = _listed(ctx, out, size)
    listed = whole or []
    if pieces:
        crop_outs = [r for [r] in crop_listings]
        listed = await _tiled(ctx, pieces, crop_outs, listed, answers, size)
    seen = [Obj(label or "", box) for label, box, _ in listed]
    added = [(o.category, o.box, scores[id(o.box)]) for o in completed(seen, answers)]
    wanted = set(categories or ())
    shown = [d for d in listed if not wanted or d[0] in wanted]
    raw = "\n".join([out.text, *(r.text for [r] in crop_listings)])
    return Detected([*shown, *added], raw, whole is not None)


async def detect(
    ctx: ServingContext,
    image: Image.Image,
    categories: Sequence[str] | None = None,
    coords: CoordSpace = "pixel",
    second_look: bool = True,
) -> DetectResponse:
    """List the objects (`detected`); boxes in the requested space.

    A checkpoint that detects in tiles (`Adapter.detect_crops`) lists a non-square
    image's square crops too; `raw` is then the whole image's listing, then each
    crop's, one a line.
    """
    size = image.size
    found = await detected(ctx, image, categories, second_look, ctx.adapter.detect_crops(size))
    detections = [
        Detection(label=label or "object", box=in_space(box, size, coords), confidence=score)
        for label, box, score in found.objects
    ]
    ctx.report("detect", found.parsed, len(detections))
    return DetectResponse(
        image_size=ImageSize(width=size[0], height=size[1]), detections=detections, raw=found.raw
    )
