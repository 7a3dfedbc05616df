"""Grounding questions: LocPred (present objects) and NegPred (absent ones).

"Where is the red circle?" -> every instance's box. The target is the boxes alone,
written by the codec and joined by its separator, in reading order (top to bottom by
the top edge, then left to right): with IVB, `"[12, 40, 30, 58]; [60, 35, 80, 55]"`.
NegPred asks the same question about a category the image does not show; its target
is an explicit absence, `"There is no purple diamond."` (the objective that reduces
hallucination), and `parse` reads either answer.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from locvlm.coords import Codec
from locvlm.tasks.base import Args, Judged, Scene, Task, Turn, as_box, distinct, reading_key
from locvlm.tasks.scoring import boxes_match
from locvlm_client import Box, SizeLike

__all__ = [
    "TEMPLATES",
    "LocPredTask",
    "Location",
    "NegPredTask",
    "absent_answer",
    "absent_regex",
    "answer",
    "answer_regex",
    "is_absent",
    "parse",
    "prompt",
]

TEMPLATES = (
    "Where is the {phrase}?",
    "Locate the {phrase} in the image.",
    "Find the {phrase}.",
    "Give the bounding box of the {phrase}.",
    "Where can the {phrase} be found?",
)
"""The grounding question, about present (LocPred) and absent (NegPred) categories."""

_ABSENT = "There is no {phrase}."
# What counts as saying "absent": our own wording and the usual ways models put it.
_ABSENT_PATTERN = re.compile(
    r"\bthere (?:is|are) no\b|\bnot (?:present|visible|in the image)\b|^\W*(?:no|none|nothing)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Location:
    """A grounding answer: the boxes found, none when the model said it is absent."""

    boxes: tuple[Box, ...]

    @property
    def found(self) -> bool:
        """Whether the object was located (False: the model said it is not there)."""
        return bool(self.boxes)


def prompt(phrase: str, template: int = 0) -> str:
    """The grounding question about `phrase` (the canonical one by default)."""
    return TEMPLATES[template].format(phrase=phrase)


def answer(boxes: Sequence[Box], codec: Codec, size: SizeLike) -> str:
    """The LocPred target: `boxes` in reading order, written by `codec`.

    An absent object's target is `absent_answer`.
    """
    return codec.encode(sorted(boxes, key=reading_key), size)


def absent_answer(phrase: str) -> str:
    """The NegPred target for an absent `phrase`: `"There is no purple diamond."`."""
    return _ABSENT.format(phrase=phrase)


def absent_regex(phrase: str) -> str:
    """The output constraint of the absent answer about `phrase`."""
    return re.escape(absent_answer(phrase))


def is_absent(text: str) -> bool:
    """Whether model `text` says the object is not in the image."""
    return _ABSENT_PATTERN.search(text) is not None


def answer_regex(phrase: str, codec: Codec) -> str:
    """The output constraint: the codec's boxes, or the absent answer."""
    return f"(?:{codec.regex})|(?:{absent_regex(phrase)})"


def parse(text: str, codec: Codec, size: SizeLike) -> Location | None:
    """The boxes in `text`, or no boxes for the absent answer; None for neither.

    A box written twice (`distinct`) counts once.
    """
    if is_absent(text):
        return Location(boxes=())
    boxes = distinct(codec.decode(text, size), lambda b: b)
    return Location(boxes=boxes) if boxes else None


def _judge(text: str, expected: Args, codec: Codec, size: SizeLike) -> Judged:
    """Right when the boxes match the expected ones one to one (none: said absent)."""
    got = parse(text, codec, size)
    want = [as_box(b) for b in expected["boxes"]]
    ok = got is not None and boxes_match(list(got.boxes), want)
    return Judged(ok, got is not None, None if got is None else [b.to_xyxy() for b in got.boxes])


class _Grounding:
    """The serving and evaluation side both grounding tasks share."""

    def prompt(self, args: Args, codec: Codec, size: SizeLike) -> str:
        """The canonical question about `args["phrase"]`."""
        return prompt(args["phrase"])

    def constraint(self, args: Args, codec: Codec, vocabulary: Sequence[str]) -> str | None:
        """Boxes, or the absent answer about `args["phrase"]`."""
        return answer_regex(args["phrase"], codec)

    def judge(self, text: str, expected: Args, codec: Codec, size: SizeLike) -> Judged:
        """`expected["boxes"]` in pixels; an empty list expects the absent answer."""
        return _judge(text, expected, codec, size)


class LocPredTask(_Grounding, Task[Location | None]):
    """Ground a category present in the scene."""

    name = "locpred"
    templates = TEMPLATES

    def sample(
        self, scene: Scene, codec: Codec, rng: random.Random, vocabulary: Sequence[str]
    ) -> Turn[Location | None] | None:
        """Ask for a random present category; the answer lists all its instances."""
        if not scene.categories:
            return None
        phrase = rng.choice(scene.categories)
        boxes = tuple(obj.box for obj in scene.instances(phrase))
        text = answer(boxes, codec, scene.size)
        return self.turn(prompt(phrase, rng.randrange(len(TEMPLATES))), text, Location(boxes))

    def read(
        self, text: str, codec: Codec, size: SizeLike, vocabulary: Sequence[str] = ()
    ) -> Location | None:
        """See `parse`."""
        return parse(text, codec, size)


class NegPredTask(_Grounding, Task[bool]):
    """LocPred's question about an absent category; `read` is "did it say absent"."""

    name = "negpred"
    templates = TEMPLATES

    def sample(
        self, scene: Scene, codec: Codec, rng: random.Random, vocabulary: Sequence[str]
    ) -> Turn[bool] | None:
        """Ask about a random vocabulary entry that the scene does not show."""
        absent = scene.absent(vocabulary)
        if not absent:
            return None
        phrase = rng.choice(absent)
        question = rng.choice(self.templates).format(phrase=phrase)
        return self.turn(question, absent_answer(phrase), expected=True)

    def read(self, text: str, codec: Codec, size: SizeLike, vocabulary: Sequence[str] = ()) -> bool:
        """Whether `text` says the object is absent."""
        return is_absent(text)
