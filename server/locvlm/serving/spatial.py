"""`POST /v1/spatial`: answer a spatial question, with the boxes the answer rests on.

The question is classified against the tasks' own templates (yes/no, side, category,
count); the model answers it in the checkpoint's format, and the objects it names are
grounded with LocPred in the same engine call, so callers can check the reasoning.
Questions that match no template are answered as free text (`answer_type="free"`).
"""

from __future__ import annotations

from PIL import Image

from locvlm.coords.relations import Axis
from locvlm.serving.context import ServingContext
from locvlm.tasks import counting, locpred, spatial
from locvlm.tasks.classify import Question, classify
from locvlm_client import Detection, SpatialResponse

__all__ = ["answer_spatial"]


def _question(q: Question, ctx: ServingContext, original: str) -> tuple[str, str | None]:
    """The model prompt for a classified question and its output constraint."""
    vocab, evidence = ctx.vocabulary, ctx.sidecar.spatial_evidence
    axis = q.axis or Axis.HORIZONTAL
    assert q.subject is not None or q.answer_type in ("category", "free")
    if q.answer_type == "yes_no" and q.relation and q.subject and q.reference:
        text = spatial.yes_no_prompt(q.subject, q.relation, q.reference)
    elif q.answer_type == "side" and q.subject and q.reference:
        text = spatial.side_prompt(q.subject, q.reference, axis)
    elif q.answer_type == "category" and q.relation and q.reference:
        text = spatial.category_prompt(q.relation, q.reference)
    elif q.answer_type == "count" and q.subject:
        return counting.prompt(q.subject), counting.answer_regex()
    else:
        return original, None
    pattern = (
        spatial.answer_regex(q.answer_type, ctx.codec, vocab, evidence, axis) if vocab else None
    )
    return text, pattern


def _value_text(q: Question, text: str, ctx: ServingContext, size: tuple[int, int]) -> str:
    if q.answer_type == "count":
        n = counting.parse(text)
        return "" if n is None else str(n)
    if q.answer_type == "free":
        return text.strip()
    read = spatial.parse(text, q.answer_type, ctx.codec, size)
    if read.value is None:
        return ""
    return spatial.answer(read.value)


async def answer_spatial(ctx: ServingContext, image: Image.Image, question: str) -> SpatialResponse:
    """Classify, ask, ground the named objects, and answer."""
    size = image.size
    q = classify(question)
    text, pattern = _question(q, ctx, question)
    named = [p for p in (q.subject, q.reference) if p]
    prompts = [text, *(locpred.prompt(p) for p in named)]
    regexes = [pattern, *(locpred.answer_regex(p, ctx.codec) for p in named)]
    answer, *grounded = await ctx.ask(image, prompts, regexes)
    evidence: list[Detection] = []
    for phrase, out in zip(named, grounded, strict=True):
        found = locpred.parse(out.text, ctx.codec, size)
        evidence.extend(Detection(label=phrase, box=b) for b in (found.boxes if found else ()))
    value = _value_text(q, answer.text, ctx, size)
    answer_type = q.answer_type if value or q.answer_type == "free" else "free"
    ctx.report("spatial", bool(value) or q.answer_type == "free", len(evidence))
    return SpatialResponse(
        answer=value or answer.text.strip(), answer_type=answer_type,
        evidence=evidence, raw=answer.text,
    )  # fmt: skip
