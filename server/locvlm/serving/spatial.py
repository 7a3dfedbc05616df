"""`POST /v1/spatial`: answer a spatial question, with the boxes the answer rests on.

The question is classified against the tasks' own templates (yes/no, side, category,
count); the model answers it in the checkpoint's format. A checkpoint trained to list
its evidence before the answer is taken at its word: those boxes are the evidence, so
they cannot disagree with the answer's own text. Otherwise the objects the question
names are grounded with LocPred in the same engine call, so callers can check the
reasoning. A checkpoint read from its listing of every object (`Sidecar.listing`) is
also asked for the listing with a side or yes/no question: where it lists both objects
once and apart on the asked axis, the side and the evidence are the listing's (it places
objects more reliably than a side answer binds them); else the model's answer stands.
Questions that match no template are answered as free text (`answer_type="free"`).
Families that have no spatial answer format of their own are answered by
localize-then-reason (`serving.reasoned`).
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from locvlm.adapters.base import Question
from locvlm.serving.context import ServingContext
from locvlm.serving.reasoned import reason_spatial
from locvlm.serving.space import in_space
from locvlm.tasks import TASKS, Task, spatial
from locvlm.tasks._text import yes_or_no
from locvlm.tasks.classify import ClassifiedQuestion, classify
from locvlm_client import CoordSpace, Detection, SpatialResponse

__all__ = ["answer_spatial"]

_TASKS = {
    # "Is A left of B?" is asked as "Which side of B is A?" and answered by comparing:
    # the shipped checkpoint names sides (0.97 left/right, 0.90 above/below on the
    # held-out benchmark) better than it answers yes/no questions (0.58 left/right, 0.89
    # above/below; docs/model-card.md).
    "yes_no": "spatial_side",
    "side": "spatial_side",
    "category": "spatial_category",
    "count": "counting",
}
"""The task that asks each answer type ("free" has none: the question goes as it is)."""


def _task(q: ClassifiedQuestion, ctx: ServingContext) -> Task[Any] | None:
    """The task for `q`, in its evidence form when the checkpoint answers that way."""
    name = _TASKS.get(q.answer_type)
    if name is None:
        return None
    evidence = spatial.evidence_form(name)
    return TASKS[evidence if ctx.sidecar.spatial_evidence and evidence in TASKS else name]


def _side_listing(
    ctx: ServingContext, q: ClassifiedQuestion, task: Task[Any] | None, size: tuple[int, int]
) -> Question | None:
    """The listing asked beside a side or yes/no question, for a checkpoint read from it."""
    if task is None or q.answer_type not in ("yes_no", "side") or not ctx.adapter.reads_listing:
        return None
    return ctx.adapter.detect([], size) if q.subject and q.reference else None


def _side_from_listing(
    ctx: ServingContext, q: ClassifiedQuestion, text: str, size: tuple[int, int]
) -> spatial.SpatialAnswer | None:
    """The side the listing gives (`spatial.side_in_listing`), None where it gives none."""
    listed = ctx.adapter.read_listing(text, size)
    axis = q.axis or (q.relation.axis if q.relation else None)
    if not listed or axis is None or q.subject is None or q.reference is None:
        return None
    subject, reference = (ctx.adapter.known(p) or p for p in (q.subject, q.reference))
    return spatial.side_in_listing(listed, subject, reference, axis)


def _value_text(q: ClassifiedQuestion, read: Any) -> str:
    """The answer's value as text ("" when the model's text held none)."""
    if q.answer_type == "count":
        return "" if read is None else str(read)
    if q.answer_type == "yes_no":  # asked as the side question: does the side said match?
        assert q.relation is not None  # a yes/no question names its relation
        said = spatial.yes_from_side(read.value, q.relation)
        return "" if said is None else yes_or_no(said)
    value = read.value
    return "" if value is None else spatial.answer(value)


async def answer_spatial(
    ctx: ServingContext, image: Image.Image, question: str, coords: CoordSpace = "pixel"
) -> SpatialResponse:
    """Classify, ask, ground the named objects, and answer; evidence in `coords`."""
    said = await _answer(ctx, image, question)
    if coords == "pixel":
        return said
    evidence = [
        Detection(label=d.label, box=in_space(d.box, image.size, coords)) for d in said.evidence
    ]
    return said.model_copy(update={"evidence": evidence})


async def _answer(ctx: ServingContext, image: Image.Image, question: str) -> SpatialResponse:
    """Classify, ask, ground the named objects, and answer (evidence in pixels)."""
    ctx.adapter.require("spatial")
    q = classify(question)
    unknown = [p for p in (q.subject, q.reference) if p and ctx.adapter.known(p) is None]
    if unknown:  # the model would answer about whatever object it knows best
        warning = "; ".join(ctx.adapter.unknown_warning(p) for p in unknown)
        return SpatialResponse(
            answer=f"This model does not know {' or '.join(repr(p) for p in unknown)}.",
            answer_type="free", warning=warning,
        )  # fmt: skip
    if not ctx.adapter.native_spatial:
        return await reason_spatial(ctx, image, question, q)
    size, codec, vocab = image.size, ctx.codec, ctx.vocabulary
    task = _task(q, ctx)
    text, pattern = question, None
    if task is not None:
        try:
            text, pattern = task.prompt(q.args, codec, size), task.constraint(q.args, codec, vocab)
        except KeyError:  # a template slot left empty: ask the question as it is
            task = None
    # An answer that writes its evidence is its own evidence; else the named objects are
    # grounded in the same engine call. For a checkpoint read from its listing, a side
    # or yes/no question is answered from the listing where it places both objects.
    writes_evidence = task is not None and task.name.endswith("_evidence")
    named = [] if writes_evidence else [p for p in (q.subject, q.reference) if p]
    located = [ctx.adapter.ground(ctx.adapter.known(p) or p, size) for p in named]
    listing = _side_listing(ctx, q, task, size)
    asked = [*located, *([listing] if listing else [])]
    unique = list(dict.fromkeys(asked))  # a listing grounds both objects: asked once
    prompts = [text, *(g.text for g in unique)]
    regexes = [pattern, *(g.regex for g in unique)]
    answer, *outs = await ctx.ask(image, prompts, regexes)
    said = dict(zip(unique, outs, strict=True))
    grounded = [said[g] for g in asked]
    read = None if task is None else task.read(answer.text, codec, size, vocab)
    if listing is not None and (listed := _side_from_listing(ctx, q, grounded.pop().text, size)):
        read, writes_evidence, named, grounded = listed, True, [], []  # the listing's pair
    evidence: list[Detection] = []
    if writes_evidence and read is not None:
        evidence = [Detection(label=o.category, box=o.box) for o in read.evidence]
    for phrase, out in zip(named, grounded, strict=True):
        boxes = ctx.adapter.read_ground(out.text, phrase, size) or ()
        evidence.extend(Detection(label=phrase, box=b) for b in boxes)
    value = "" if task is None else _value_text(q, read)
    answer_type = q.answer_type if value or task is None else "free"
    ctx.report("spatial", bool(value) or task is None, len(evidence))
    return SpatialResponse(
        answer=value or answer.text.strip(), answer_type=answer_type,
        evidence=evidence, raw=answer.text,
    )  # fmt: skip
