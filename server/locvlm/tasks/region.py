"""Contextual region description: a box -> its category and one relation to the scene.

"Describe the region [12, 40, 30, 58] in context." ->
`"the red circle left of the blue square"`; the plain variant ("Describe the region
[12, 40, 30, 58].") answers `"the red circle"`. The relation is one that is defined
(the boxes do not overlap on its axis), to another object whose category appears once
in the scene when there is one, so that the description is unambiguous. A region with
nothing to relate to is described by its category alone.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from locvlm.coords import Codec
from locvlm.coords.relations import Axis, Relation
from locvlm.tasks._text import normalize, one_of
from locvlm.tasks.base import Args, Judged, Obj, Scene, Task, Turn, as_box, defined_relations
from locvlm.tasks.scoring import IOU_THRESHOLD
from locvlm_client import Box, SizeLike

__all__ = [
    "CONTEXT_TEMPLATES",
    "PLAIN_TEMPLATES",
    "Description",
    "RegionTask",
    "answer",
    "context",
    "in_scene",
    "listed_at",
    "named_in_listing",
    "parse",
    "partners",
    "prompt",
    "relate",
]

CONTEXT_TEMPLATES = (
    "Describe the region {box} in context.",
    "Describe the object at {box} and where it is relative to another object.",
    "What is at {box}, and where is it relative to the rest of the image?",
    "Give a contextual description of the region {box}.",
)
PLAIN_TEMPLATES = (
    "Describe the region {box}.",
    "Briefly describe the object at {box}.",
    "What does the region {box} show?",
    "Give a short description of the region {box}.",
)

_DESCRIPTION = re.compile(
    r"(?P<category>.+?)(?: (?:to the |on the )?(?P<relation>"
    + "|".join(rel.value for rel in Relation)
    + r") (?:the |a |an )?(?P<other>.+))?"
)


@dataclass(frozen=True)
class Description:
    """A region description: the category and, in context, a relation to another one."""

    category: str
    relation: Relation | None = None
    other: str | None = None


def prompt(box: Box, codec: Codec, size: SizeLike, context: bool = True, template: int = 0) -> str:
    """The request to describe `box`, with or without context (canonical by default)."""
    templates = CONTEXT_TEMPLATES if context else PLAIN_TEMPLATES
    return templates[template].format(box=codec.encode([box], size))


def answer(category: str, relation: Relation | None = None, other: str | None = None) -> str:
    """The target: `"the red circle"`, or `"the red circle left of the blue square"`."""
    if relation is None or other is None:
        return f"the {category}"
    return f"the {category} {relation.value} the {other}"


def answer_regex(vocabulary: Sequence[str], context: bool = True) -> str:
    """The output constraint: "the <category>" [+ " <relation> the <category>"]."""
    cats = one_of(vocabulary)
    if not context:
        return f"the {cats}"
    relations = one_of(rel.value for rel in Relation)
    return f"the {cats}(?: {relations} the {cats})?"


def parse(text: str) -> Description | None:
    """The category, relation and other category in `text`; None for a text with no words."""
    said = normalize(text)
    found = _DESCRIPTION.fullmatch(said)
    if found is None:
        return None
    relation = found["relation"]
    return Description(
        category=found["category"],
        relation=None if relation is None else Relation(relation),
        other=found["other"],
    )


def partners(scene: Scene, target: Obj) -> list[Obj]:
    """The objects a description of `target` may relate it to.

    Those with a defined relation to it whose category appears once in the scene, when
    there is one (an unambiguous description); else every other object with a defined
    relation; none when no object has one.
    """
    others = [obj for obj in scene.objects if obj is not target and defined_relations(target, obj)]
    return [obj for obj in others if obj in scene.singles] or others


def context(scene: Scene, target: Obj, rng: random.Random) -> tuple[Relation, Obj] | None:
    """A random defined relation of `target` to one of its `partners`, and that partner.

    None when it has none.
    """
    pool = partners(scene, target)
    if not pool:
        return None
    other = rng.choice(pool)
    return rng.choice(defined_relations(target, other)), other


def relate(box: Box, listed: Sequence[Obj]) -> tuple[Relation, str] | None:
    """The clearest defined relation of the region `box` to one of the `listed` objects.

    The listed object that is the region itself (the one overlapping it most, at IoU
    above 0.5) is left out. Objects whose category is listed once come first, so that
    the description is unambiguous; then the relation with the widest gap between the two
    boxes (the one a small error in either box changes last). None when no listed object
    has a defined relation to `box`: the region is described by its category alone.
    """
    own = listed_at(box, listed)
    others = [obj for obj in listed if obj is not own]
    counts = Counter(obj.category for obj in listed)
    found = [
        (counts[obj.category] > 1, -_gap(box, obj.box, rel), rel, obj.category)
        for obj in others
        for rel in defined_relations(Obj(category="", box=box), obj)
    ]
    if not found:
        return None
    _, _, rel, other = min(found, key=lambda f: (f[0], f[1]))
    return rel, other


def listed_at(box: Box, listed: Sequence[Obj]) -> Obj | None:
    """The listed object that is the region `box`, or None when no listed object is.

    The one overlapping it most, at IoU above 0.5.
    """
    own = max(listed, key=lambda obj: obj.box.iou(box), default=None)
    return own if own is not None and own.box.iou(box) > IOU_THRESHOLD else None


def named_in_listing(category: str, box: Box, listed: Sequence[Obj]) -> str:
    """The category of the region at `box`, read with the `listed` objects.

    The listed object's at the region (`listed_at`), else `category` (the model's own
    answer about the region): in a listing of the whole scene the model names an object
    more often right than when asked about its box alone (held-out, `docs/results.md`:
    r11's region description 0.854 -> 0.894; RevLoc 0.839 -> 0.946 for s13k, 0.906 ->
    0.968 for b150, 0.975 -> 0.971 for k2).
    """
    at = listed_at(box, listed)
    return category if at is None else at.category


def in_scene(
    category: str, box: Box, listed: Sequence[Obj], context: bool = True
) -> tuple[str, str]:
    """The category and description of the region at `box`, read with the `listed` objects.

    The category is `named_in_listing`'s; the description is `answer` with, in `context`,
    `relate`'s relation, or the category alone when it finds none or out of context.
    """
    category = named_in_listing(category, box, listed)
    found = relate(box, listed) if context else None
    return category, answer(category, *(found or (None, None)))


def _gap(a: Box, b: Box, rel: Relation) -> float:
    """The empty space between `a` and `b` along `rel`'s axis."""
    if rel.axis is Axis.HORIZONTAL:
        return max(b.x1 - a.x2, a.x1 - b.x2)
    return max(b.y1 - a.y2, a.y1 - b.y2)


class RegionTask(Task[Description | None]):
    """Describe a random object's region, in context or plainly."""

    def __init__(self, in_context: bool = True) -> None:
        """Describe with a relation to the scene when `in_context`, else the category only."""
        self.in_context = in_context
        self.name = "region" if in_context else "region_plain"
        self.templates = CONTEXT_TEMPLATES if in_context else PLAIN_TEMPLATES

    def sample(
        self, scene: Scene, codec: Codec, rng: random.Random, vocabulary: Sequence[str]
    ) -> Turn[Description | None] | None:
        """Describe a random object; in context, relate it to another (see `context`)."""
        if not scene.objects:
            return None
        target = rng.choice(scene.objects)
        found = context(scene, target, rng) if self.in_context else None
        relation, other = (None, None) if found is None else (found[0], found[1].category)
        question = prompt(
            target.box, codec, scene.size, self.in_context, rng.randrange(len(self.templates))
        )
        text = answer(target.category, relation, other)
        return self.turn(question, text, Description(target.category, relation, other))

    def read(
        self, text: str, codec: Codec, size: SizeLike, vocabulary: Sequence[str] = ()
    ) -> Description | None:
        """See `parse`."""
        return parse(text)

    def prompt(self, args: Args, codec: Codec, size: SizeLike) -> str:
        """The canonical request to describe `args["box"]`."""
        return prompt(as_box(args["box"]), codec, size, context=self.in_context)

    def constraint(self, args: Args, codec: Codec, vocabulary: Sequence[str]) -> str | None:
        """A description in this task's form over `vocabulary`."""
        return answer_regex(vocabulary, self.in_context) if vocabulary else None

    def judge(self, text: str, expected: Args, codec: Codec, size: SizeLike) -> Judged:
        """The category must match; in context, the relation must be one of `valid`.

        `expected["valid"]` lists the `[relation, other]` pairs that hold; without it
        (or plainly) the description must carry no relation. A wrong answer's `mistake`
        is the first of: `category`, `relation where none holds`, `no relation`,
        `partner` (the other object is none the region relates to: absent, or itself),
        `relation` (a partner it relates to, by another relation).
        """
        valid = {(rel, other) for rel, other in expected.get("valid", [])}
        got = parse(text)
        if got is None:
            return Judged(False, False)
        rel = None if got.relation is None else got.relation.value
        in_context = (rel, got.other) in valid if valid else rel is None
        ok = got.category == expected["category"] and in_context
        mistake = None
        if got.category != expected["category"]:
            mistake = "category"
        elif not in_context and not valid:
            mistake = "relation where none holds"
        elif not in_context:
            partners = {other for _, other in valid}
            mistake = "no relation" if rel is None else (
                "relation" if got.other in partners else "partner")  # fmt: skip
        return Judged(ok, True, [got.category, rel, got.other], mistake=mistake)
