"""Which kind of spatial question a user's free text asks, from the tasks' own templates.

Routes `POST /v1/spatial {"question": ...}`: every template of `spatial` (yes/no, side,
category) and of `counting` becomes a pattern; the text is matched case-insensitively,
without its final punctuation, with "the", "a" or "an" (or nothing) before a phrase and
"to the left of" / "on the left of" accepted for "left of".

    classify("Is the cup to the left of the laptop?")
    # ClassifiedQuestion(answer_type="yes_no", subject="cup", reference="laptop", ...)
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from locvlm.coords.relations import Axis, Relation
from locvlm.tasks import counting, motion, spatial
from locvlm.tasks._plural import singular
from locvlm.tasks._text import normalize

__all__ = ["ANSWER_TYPES", "MOTION_TYPES", "ClassifiedQuestion", "classify", "classify_motion"]

ANSWER_TYPES = ("yes_no", "side", "category", "count", "free")
"""The answer types `classify` returns; "free" means no template matched."""
MOTION_TYPES = ("direction", "end_relation", "free")
"""The answer types `classify_motion` returns (the motion task's two kinds of question)."""


@dataclass(frozen=True)
class ClassifiedQuestion:
    """A user's question classified: its answer type and the arguments its template names."""

    answer_type: str
    subject: str | None = None
    """The object asked about (for "count", the singular category)."""
    reference: str | None = None
    """The object the relation is taken to."""
    relation: Relation | None = None
    axis: Axis | None = None

    @property
    def args(self) -> dict[str, object]:
        """The arguments found, by the names tasks' `prompt` takes (`phrase`: the subject)."""
        found = {
            "subject": self.subject, "phrase": self.subject, "reference": self.reference,
            "relation": self.relation, "axis": self.axis,
        }  # fmt: skip
        return {name: value for name, value in found.items() if value is not None}


_RELATIONS = {rel.value: rel for rel in Relation} | {
    f"{prefix} {rel.value}": rel
    for rel in (Relation.LEFT_OF, Relation.RIGHT_OF)
    for prefix in ("to the", "on the")
}
_SLOTS = {
    "relation": "(?P<relation>" + "|".join(sorted(_RELATIONS, key=len, reverse=True)) + ")",
    **{
        name: rf"(?:(?:the|a|an)\s+)?(?P<{name}>[^?!.,;:]+?)"
        for name in ("subject", "reference", "plural", "phrase")
    },
}


# Longer text is no template question; the cap bounds the patterns' backtracking (the
# phrase slots make matching quadratic in the length).
_MAX_CHARS = 500


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    answer_type: str
    axis: Axis | None
    weight: int  # literal characters: the most specific template is tried first


def _rule(template: str, answer_type: str, axis: Axis | None = None) -> _Rule:
    parts: list[str] = []
    weight = 0
    for literal, field, _, _ in string.Formatter().parse(template.lower().rstrip("?.")):
        if field in _SLOTS and field != "relation" and literal.endswith("the "):
            literal = literal[: -len("the ")]  # the slot takes any article, or none
        parts.append(r"\s+".join(map(re.escape, literal.split(" "))))
        parts.append(_SLOTS[field] if field else "")
        weight += len(literal)
    return _Rule(re.compile("".join(parts)), answer_type, axis, weight)


_RULES = sorted(
    [
        *(_rule(t, "yes_no") for t in spatial.YES_NO_TEMPLATES),
        *(_rule(t, "side", axis) for axis, ts in spatial.SIDE_TEMPLATES.items() for t in ts),
        *(_rule(t, "category") for t in spatial.CATEGORY_TEMPLATES),
        *(_rule(t, "count") for t in counting.TEMPLATES),
    ],
    key=lambda rule: -rule.weight,
)


_MOTION_RULES = sorted(
    [
        *(_rule(t, "direction") for t in motion.DIRECTION_TEMPLATES),
        *(_rule(t, "end_relation") for t in motion.END_TEMPLATES),
    ],
    key=lambda rule: -rule.weight,
)


def classify(question: str) -> ClassifiedQuestion:
    """The answer type of `question` and its arguments; `"free"` when no template fits."""
    return _classify(question, _RULES)


def classify_motion(question: str) -> ClassifiedQuestion:
    """A question about a clip: which way something moves, or where it ends up.

    `"direction"` ("Which way does the red circle move?": the subject), `"end_relation"`
    ("Does the red circle end up left of the blue square?"), or `"free"`.
    """
    return _classify(question, _MOTION_RULES)


def _classify(question: str, rules: list[_Rule]) -> ClassifiedQuestion:
    text = " ".join(question.lower().split()).rstrip(" ?.!")
    if len(text) > _MAX_CHARS:
        return ClassifiedQuestion(answer_type="free")
    for rule in rules:
        found = rule.pattern.fullmatch(text)
        if found is not None:
            return _question(rule, found.groupdict())
    return ClassifiedQuestion(answer_type="free")


def _question(rule: _Rule, slots: dict[str, str | None]) -> ClassifiedQuestion:
    phrases = {name: normalize(text) for name, text in slots.items() if text}
    relation = _RELATIONS.get(slots.get("relation") or "")
    plural = phrases.get("plural")
    subject = phrases.get("subject") or phrases.get("phrase")
    return ClassifiedQuestion(
        answer_type=rule.answer_type,
        subject=subject if plural is None else singular(plural),
        reference=phrases.get("reference"),
        relation=relation,
        axis=rule.axis or (None if relation is None else relation.axis),
    )
