"""Spatial answers by localize-then-reason, for families without an answer format.

The objects a question names are grounded, and the answer is computed from their boxes
with the same relation rules the benchmarks use (`coords.relations`).

- yes/no ("Is the cup left of the laptop?"): the relation of the first box of each;
  overlapping on the axis means the relation does not hold ("no").
- side ("Which side of the laptop is the cup?"): the relation on the axis asked.
- count ("How many cups are there?"): the number of boxes grounded.
- category ("What is left of the laptop?"): the detected objects (when the family
  detects) in that relation to the reference.

When a named object is not found, or the question fits no template, the question goes
to the model as it is and its text is the answer (`answer_type="free"`). The evidence
is always the boxes the answer was computed from, so the two cannot disagree.
"""

from __future__ import annotations

from PIL import Image

from locvlm.coords.relations import relation, relation_on_axis
from locvlm.serving.context import ServingContext
from locvlm.tasks._text import NOTHING, join_and, yes_or_no
from locvlm.tasks.classify import ClassifiedQuestion
from locvlm.tasks.spatial import SIDE_WORDS
from locvlm_client import Box, Detection, SpatialResponse

__all__ = ["reason_spatial"]


async def _ground(ctx: ServingContext, image: Image.Image, phrases: list[str]) -> list[list[Box]]:
    asked = [ctx.adapter.ground(p, image.size) for p in phrases]
    answers = await ctx.ask(image, [q.text for q in asked], [q.regex for q in asked])
    found = []
    for phrase, out in zip(phrases, answers, strict=True):
        boxes = ctx.adapter.read_ground(out.text, phrase, image.size)
        ctx.report("spatial", boxes is not None, len(boxes or ()))
        found.append(boxes or [])
    return found


async def _free(ctx: ServingContext, image: Image.Image, question: str) -> SpatialResponse:
    (out,) = await ctx.ask(image, [question], [None])
    return SpatialResponse(answer=out.text.strip(), answer_type="free", raw=out.text)


async def _category(
    ctx: ServingContext, image: Image.Image, q: ClassifiedQuestion, question: str
) -> SpatialResponse:
    if q.reference is None or q.relation is None:
        return await _free(ctx, image, question)
    if "detect" not in ctx.adapter.tasks:
        return await _free(ctx, image, question)
    size = image.size
    (refs,) = await _ground(ctx, image, [q.reference])
    asked = ctx.adapter.detect([], size)
    (out,) = await ctx.ask(image, [asked.text], [asked.regex])
    found = ctx.adapter.read_detect(out.text, size) or []
    if not refs:
        return await _free(ctx, image, question)
    hits = [f for f in found if f.label and relation(f.box, refs[0], q.relation)]
    names = list(dict.fromkeys(f.label for f in hits if f.label))
    evidence = [Detection(label=q.reference, box=refs[0])]
    evidence += [Detection(label=f.label or "object", box=f.box) for f in hits]
    return SpatialResponse(
        answer=join_and(names) or NOTHING, answer_type="category", evidence=evidence, raw=out.text
    )


async def reason_spatial(
    ctx: ServingContext, image: Image.Image, question: str, q: ClassifiedQuestion
) -> SpatialResponse:
    """Answer `question` (classified as `q`) from grounded boxes."""
    if q.answer_type == "category":
        return await _category(ctx, image, q, question)
    if q.answer_type == "count" and q.subject:
        (boxes,) = await _ground(ctx, image, [q.subject])
        evidence = [Detection(label=q.subject, box=b) for b in boxes]
        return SpatialResponse(answer=str(len(boxes)), answer_type="count", evidence=evidence)
    if q.answer_type not in ("yes_no", "side") or not (q.subject and q.reference and q.axis):
        return await _free(ctx, image, question)
    subjects, references = await _ground(ctx, image, [q.subject, q.reference])
    if not subjects or not references:
        return await _free(ctx, image, question)
    a, b = subjects[0], references[0]
    evidence = [Detection(label=q.subject, box=a), Detection(label=q.reference, box=b)]
    if q.answer_type == "yes_no":
        assert q.relation is not None
        value = yes_or_no(bool(relation(a, b, q.relation)))
    else:
        side = relation_on_axis(a, b, q.axis)
        if side is None:
            return await _free(ctx, image, question)
        value = SIDE_WORDS[side]
    return SpatialResponse(answer=value, answer_type=q.answer_type, evidence=evidence)
