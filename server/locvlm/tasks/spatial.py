"""Spatial VQA: yes/no, which side, and what-is questions about relations.

- yes/no: "Is the red circle left of the blue square?" -> `"yes"` / `"no"`;
- side: "Which side of the blue square is the red circle?" -> `"left"` / `"right"`, and
  "Is the red circle above or below the blue square?" -> `"above"` / `"below"`;
- category: "What is left of the blue square?" -> `"red circle and green triangle"`
  (distinct categories in reading order of their first instance), or `"nothing"`.

Questions name only categories that appear once in the scene and only relations that
are defined (no overlap on the axis). With evidence ("localize, then reason") the answer
first lists the boxes of the objects involved, as `detect` writes them, then the answer:
`"red circle [12, 40, 30, 58]; blue square [60, 35, 80, 55]. Answer: yes"`.
"""

from __future__ import annotations

import random
import re
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from locvlm.coords import Codec
from locvlm.coords.relations import Axis, Relation, relation, relation_on_axis
from locvlm.tasks import detect
from locvlm.tasks._text import NOTHING, join_and, normalize, one_of, split_and, yes_no, yes_or_no
from locvlm.tasks.base import Args, Judged, Obj, Scene, Task, Turn, as_box, defined_relations
from locvlm.tasks.scoring import IOU_THRESHOLD
from locvlm_client import SizeLike

__all__ = [
    "CATEGORY_TEMPLATES",
    "SIDE_TEMPLATES",
    "SIDE_WORDS",
    "YES_NO_TEMPLATES",
    "CategoryTask",
    "SideTask",
    "SpatialAnswer",
    "SpatialValue",
    "YesNoTask",
    "answer",
    "answer_with_evidence",
    "category_prompt",
    "evidence_form",
    "evidence_correct",
    "parse",
    "side_args",
    "side_in_listing",
    "side_prompt",
    "yes_from_side",
    "yes_no_prompt",
]

YES_NO_TEMPLATES = (
    "Is the {subject} {relation} the {reference}?",
    "Is it true that the {subject} is {relation} the {reference}?",
    "Yes or no: is the {subject} {relation} the {reference}?",
    "Would you say the {subject} is {relation} the {reference}?",
)
SIDE_TEMPLATES = {
    Axis.HORIZONTAL: (
        "Which side of the {reference} is the {subject}?",
        "Is the {subject} to the left or to the right of the {reference}?",
        "Is the {subject} left or right of the {reference}?",
        "On which side of the {reference} is the {subject}?",
    ),
    Axis.VERTICAL: (
        "Is the {subject} above or below the {reference}?",
        "Is the {subject} higher or lower than the {reference}?",
        "Is the {subject} over or under the {reference}?",
    ),
}
CATEGORY_TEMPLATES = (
    "What is {relation} the {reference}?",
    "Which objects are {relation} the {reference}?",
    "What can be seen {relation} the {reference}?",
    "Name everything {relation} the {reference}.",
)
SIDE_WORDS = {
    Relation.LEFT_OF: "left",
    Relation.RIGHT_OF: "right",
    Relation.ABOVE: "above",
    Relation.BELOW: "below",
}
"""The answer word of a side question, per relation of the subject to the reference."""

SpatialValue = bool | Relation | tuple[str, ...]
"""A yes/no answer, the side (as the relation) or the categories found."""

_MARK = "Answer:"
_MARK_PATTERN = re.compile(r"\banswer\s*:", re.IGNORECASE)
_SIDE_PATTERN = re.compile(r"\b(" + "|".join(SIDE_WORDS.values()) + r")\b")
_SIDES = {word: rel for rel, word in SIDE_WORDS.items()}


@dataclass(frozen=True)
class SpatialAnswer:
    """A parsed spatial answer: the value (None when unreadable) and the evidence boxes."""

    value: SpatialValue | None
    evidence: tuple[Obj, ...] = ()
    compared: ClassVar[tuple[str, ...]] = ("value",)  # what `scoring.correct` compares


def yes_no_prompt(subject: str, rel: Relation, reference: str, template: int = 0) -> str:
    """The yes/no question "Is the {subject} {rel} the {reference}?" (canonical by default)."""
    return YES_NO_TEMPLATES[template].format(
        subject=subject, relation=rel.value, reference=reference
    )


def side_prompt(
    subject: str, reference: str, axis: Axis = Axis.HORIZONTAL, template: int = 0
) -> str:
    """The side question "Which side of the {reference} is the {subject}?" (or above/below)."""
    return SIDE_TEMPLATES[axis][template].format(subject=subject, reference=reference)


def category_prompt(rel: Relation, reference: str, template: int = 0) -> str:
    """The question "What is {rel} the {reference}?" (the canonical wording by default)."""
    return CATEGORY_TEMPLATES[template].format(relation=rel.value, reference=reference)


def side_args(args: Args) -> Args:
    """The side question about a yes/no question's pair (`subject`, `relation`, `reference`).

    What `/v1/spatial` asks for "Is A left of B?": "Which side of B is A?", then
    `yes_from_side`. A model may name sides right and still not bind the relation word
    of a yes/no question to them (the shipped checkpoints: docs/model-card.md).
    """
    rel = Relation(args["relation"])
    return {"subject": args["subject"], "reference": args["reference"], "axis": rel.axis.value}


def side_in_listing(
    listed: Sequence[Obj], subject: str, reference: str, axis: Axis
) -> SpatialAnswer | None:
    """The side of `subject` from `reference` on `axis`, read from a listing of every object.

    With each listed exactly once (relation questions are about single instances) and
    the two apart on `axis`: the side, and the two listed objects as its evidence. None
    otherwise, and the model's own side answer stands. A listing places the objects more
    reliably than a side answer binds them (r11 on held-out scenes: `docs/results.md`).
    """
    subjects = [o for o in listed if o.category == normalize(subject)]
    references = [o for o in listed if o.category == normalize(reference)]
    if len(subjects) != 1 or len(references) != 1:
        return None
    side = relation_on_axis(subjects[0].box, references[0].box, axis)
    return None if side is None else SpatialAnswer(side, (subjects[0], references[0]))


def yes_from_side(side: Relation | None, asked: Relation) -> bool | None:
    """The yes/no answer to "is it `asked`?" that a side answer gives (None: no side read)."""
    return None if side is None else side is asked


def answer(value: SpatialValue) -> str:
    """The target without evidence: `"yes"`, `"left"` or `"red circle and blue square"`."""
    match value:
        case bool():
            return yes_or_no(value)
        case Relation():
            return SIDE_WORDS[value]
        case _:
            return join_and(value) or NOTHING


def answer_with_evidence(
    value: SpatialValue, evidence: Sequence[Obj], codec: Codec, size: SizeLike
) -> str:
    """The target that first lists the `evidence` boxes, then `"Answer: ..."`."""
    return f"{detect.listing(evidence, codec, size)}. {_MARK} {answer(value)}"


def parse(text: str, kind: str, codec: Codec, size: SizeLike) -> SpatialAnswer:
    """The answer to a question of `kind` ("yes_no", "side" or "category") in `text`.

    The evidence is the boxes listed before "Answer:", when the text has that mark.

    Raises:
        KeyError: for an unknown `kind` (a caller error, never model text).
    """
    read = _READERS[kind]
    marks = list(_MARK_PATTERN.finditer(text))
    if not marks:
        return SpatialAnswer(value=read(text))
    last = marks[-1]
    evidence = detect.parse_listing(text[: last.start()], codec, size)
    return SpatialAnswer(value=read(text[last.end() :]), evidence=evidence)


def _read_side(text: str) -> Relation | None:
    found = _SIDE_PATTERN.search(text.lower())
    return None if found is None else _SIDES[found[1]]


def _read_categories(text: str) -> tuple[str, ...] | None:
    if normalize(text) == NOTHING:
        return ()
    items = tuple(name for name in map(normalize, split_and(text)) if name)
    return items or None


_READERS: dict[str, Callable[[str], SpatialValue | None]] = {
    "yes_no": yes_no,
    "side": _read_side,
    "category": _read_categories,
}


def answer_regex(
    kind: str,
    codec: Codec,
    vocabulary: Sequence[str],
    evidence: bool,
    axis: Axis = Axis.HORIZONTAL,
    involved: Sequence[str] = (),
) -> str:
    """The output constraint of a `kind` answer ("yes_no", "side" or "category").

    With `evidence`, the answer's listing of boxes comes first, as `answer_with_evidence`
    writes it: one box for each of `involved` in its order where the objects involved
    are known (the subject, then the reference), else a listing over `vocabulary`.
    """
    if kind == "yes_no":
        value = one_of((yes_or_no(True), yes_or_no(False)))
    elif kind == "side":
        value = one_of(SIDE_WORDS[r] for r in Relation if r.axis is axis)
    else:
        cats = one_of(vocabulary)
        value = f"(?:{cats}(?:(?:, | and ){cats})*|{re.escape(NOTHING)})"
    if not evidence:
        return value
    listing = re.escape(detect.ITEM_SEPARATOR).join(
        f"{re.escape(name)} {codec.box_regex}" for name in involved
    )
    listing = listing or detect.listing_regex(codec, vocabulary)
    return f"{listing}\\. {re.escape(_MARK)} {value}"


def _pick_pair(scene: Scene, rng: random.Random) -> tuple[Obj, Obj, Relation] | None:
    """Two random once-appearing objects and a random relation defined between them."""
    pairs = [
        (a, b, rels)
        for a in scene.singles
        for b in scene.singles
        if a is not b and (rels := defined_relations(a, b))
    ]
    if not pairs:
        return None
    a, b, defined = rng.choice(pairs)
    return a, b, rng.choice(defined)


def evidence_form(name: str, evidence: bool = True) -> str:
    """Task `name` ("spatial_side") as a model that states its evidence first is asked it.

    `name` itself when not `evidence`.
    """
    return f"{name}_evidence" if evidence else name


_Picked = tuple[str, SpatialValue, tuple[Obj, ...]]
"""A sampled question, its answer value and the objects its evidence lists."""


class _SpatialTask(Task[SpatialAnswer]):
    kind: ClassVar[str]

    def __init__(self, evidence: bool = False) -> None:
        """Answer with the evidence boxes first when `evidence`."""
        self.evidence = evidence
        self.name = evidence_form(f"spatial_{self.kind}", evidence)

    @abstractmethod
    def _pick(self, scene: Scene, rng: random.Random) -> _Picked | None: ...

    def sample(
        self, scene: Scene, codec: Codec, rng: random.Random, vocabulary: Sequence[str]
    ) -> Turn[SpatialAnswer] | None:
        """A random valid question about `scene`, or None when it has none."""
        picked = self._pick(scene, rng)
        if picked is None:
            return None
        question, value, involved = picked
        if not self.evidence:
            return self.turn(question, answer(value), SpatialAnswer(value))
        text = answer_with_evidence(value, involved, codec, scene.size)
        return self.turn(question, text, SpatialAnswer(value, involved))

    def read(
        self, text: str, codec: Codec, size: SizeLike, vocabulary: Sequence[str] = ()
    ) -> SpatialAnswer:
        """See `parse`."""
        return parse(text, self.kind, codec, size)

    def constraint(self, args: Args, codec: Codec, vocabulary: Sequence[str]) -> str | None:
        """This kind's answer over `vocabulary` (after the evidence, with evidence)."""
        if not vocabulary:
            return None
        axis = Axis(args.get("axis") or Axis.HORIZONTAL)
        pair = [normalize(args.get(role) or "") for role in ("subject", "reference")]
        involved = pair if self.kind != "category" and set(pair) <= set(vocabulary) else []
        return answer_regex(self.kind, codec, vocabulary, self.evidence, axis, involved)

    @abstractmethod
    def _want(self, expected: Args) -> SpatialValue:
        """The answer value of a benchmark row's `expected["answer"]`."""

    def judge(self, text: str, expected: Args, codec: Codec, size: SizeLike) -> Judged:
        """Right on the value; with evidence, `Judged.evidence` scores the boxes stated.

        `expected["evidence"]` lists `{"category", "box"}` objects (or pairs).
        """
        got = parse(text, self.kind, codec, size)
        boxes = expected.get("evidence")
        stated = None
        if self.evidence and boxes is not None:
            stated = evidence_correct(got, _evidence(boxes))
        return Judged(got.value == self._want(expected), got.value is not None, got.value, stated)


def evidence_correct(got: SpatialAnswer | None, expected: SpatialAnswer) -> bool:
    """Whether the evidence objects (category and box) match the expected ones."""
    if got is None or len(got.evidence) != len(expected.evidence):
        return False
    return all(
        g.category == e.category and g.box.iou(e.box) > IOU_THRESHOLD
        for g, e in zip(got.evidence, expected.evidence, strict=True)
    )


def _evidence(items: Sequence[Any]) -> SpatialAnswer:
    """Expected evidence: `{"category", "box"}` objects (or `[category, box]` pairs)."""
    pairs = [(i["category"], i["box"]) if isinstance(i, dict) else i for i in items]
    return SpatialAnswer(None, tuple(Obj(c, as_box(b)) for c, b in pairs))


class YesNoTask(_SpatialTask):
    """Is A {relation} B? Asked of true and false relations at even odds."""

    kind = "yes_no"
    templates = YES_NO_TEMPLATES

    def _pick(self, scene: Scene, rng: random.Random) -> _Picked | None:
        picked = _pick_pair(scene, rng)
        if picked is None:
            return None
        a, b, holds = picked
        asked = rng.choice((holds, holds.inverse))
        template = rng.randrange(len(self.templates))
        return yes_no_prompt(a.category, asked, b.category, template), asked is holds, (a, b)

    def prompt(self, args: Args, codec: Codec, size: SizeLike) -> str:
        """Is `subject` `relation` `reference`?"""
        return yes_no_prompt(args["subject"], Relation(args["relation"]), args["reference"])

    def _want(self, expected: Args) -> SpatialValue:
        return bool(expected["answer"] == "yes")


class SideTask(_SpatialTask):
    """Which side of B is A (left/right), or is A above or below B."""

    kind = "side"
    templates = SIDE_TEMPLATES[Axis.HORIZONTAL] + SIDE_TEMPLATES[Axis.VERTICAL]

    def _pick(self, scene: Scene, rng: random.Random) -> _Picked | None:
        picked = _pick_pair(scene, rng)
        if picked is None:
            return None
        a, b, holds = picked
        template = rng.randrange(len(SIDE_TEMPLATES[holds.axis]))
        return side_prompt(a.category, b.category, holds.axis, template), holds, (a, b)

    def prompt(self, args: Args, codec: Codec, size: SizeLike) -> str:
        """Which side of `reference` is `subject`, on `axis` (horizontal by default)?"""
        axis = Axis(args.get("axis") or Axis.HORIZONTAL)
        return side_prompt(args["subject"], args["reference"], axis)

    def _want(self, expected: Args) -> SpatialValue:
        return _SIDES[expected["answer"]]


class CategoryTask(_SpatialTask):
    """What is {relation} B: the categories there, or "nothing"."""

    kind = "category"
    templates = CATEGORY_TEMPLATES

    def _pick(self, scene: Scene, rng: random.Random) -> _Picked | None:
        if not scene.singles:
            return None
        reference = rng.choice(scene.singles)
        rel = rng.choice(list(Relation))
        found = [
            o for o in scene.ordered if o is not reference and relation(o.box, reference.box, rel)
        ]
        value = tuple(dict.fromkeys(obj.category for obj in found))
        template = rng.randrange(len(self.templates))
        return category_prompt(rel, reference.category, template), value, (reference, *found)

    def prompt(self, args: Args, codec: Codec, size: SizeLike) -> str:
        """What is `relation` `reference`?"""
        return category_prompt(Relation(args["relation"]), args["reference"])

    def _want(self, expected: Args) -> SpatialValue:
        return tuple(expected["answer"])
