"""Reverse location (RevLoc): "What is at [12, 40, 30, 58]?" -> "red circle".

The box in the question is written by the codec; the target is the bare category.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from locvlm.coords import Codec
from locvlm.tasks._text import match_vocabulary, normalize, one_of, split_and
from locvlm.tasks.base import Args, Judged, Scene, Task, Turn, as_box
from locvlm_client import Box, SizeLike

__all__ = ["TEMPLATES", "Named", "RevLocTask", "answer", "parse", "prompt"]

TEMPLATES = (
    "What is at {box}?",
    "What object is at {box}?",
    "Which object is inside {box}?",
    "Name the object in the region {box}.",
    "What is located at {box}?",
)


@dataclass(frozen=True)
class Named:
    """What the model named: its normalized text and the vocabulary entry it matches."""

    text: str
    category: str | None = None


def prompt(box: Box, codec: Codec, size: SizeLike, template: int = 0) -> str:
    """The question about `box` (pixels of an image of `size`), written by `codec`."""
    return TEMPLATES[template].format(box=codec.encode([box], size))


def answer(category: str) -> str:
    """The target: the bare category, `"red circle"`."""
    return category


def answer_regex(vocabulary: Sequence[str]) -> str:
    """The output constraint: one category of the model's vocabulary."""
    return one_of(answer(c) for c in vocabulary)


def parse(text: str, vocabulary: Sequence[str] = ()) -> Named | None:
    """The category named in `text`, and the `vocabulary` entry it names if any.

    The text is normalized (lowercase, no articles or punctuation); None when it has no
    words. A list (`"red circle and blue square"`) names no single entry: its category
    is None, so a judge comparing it with one category finds it wrong.
    """
    said = normalize(text)
    if not said:
        return None
    if sum(bool(normalize(item)) for item in split_and(text)) > 1:
        return Named(text=said)
    return Named(text=said, category=match_vocabulary(said, vocabulary))


class RevLocTask(Task[Named | None]):
    """Name the object at a random annotated box."""

    name = "revloc"
    templates = TEMPLATES

    def sample(
        self, scene: Scene, codec: Codec, rng: random.Random, vocabulary: Sequence[str]
    ) -> Turn[Named | None] | None:
        """Ask about a random object; `expected.category` is its `vocabulary` entry."""
        if not scene.objects:
            return None
        obj = rng.choice(scene.objects)
        question = prompt(obj.box, codec, scene.size, rng.randrange(len(TEMPLATES)))
        named = Named(obj.category, match_vocabulary(obj.category, vocabulary))
        return self.turn(question, answer(obj.category), named)

    def read(
        self, text: str, codec: Codec, size: SizeLike, vocabulary: Sequence[str] = ()
    ) -> Named | None:
        """See `parse`."""
        return parse(text, vocabulary)

    def prompt(self, args: Args, codec: Codec, size: SizeLike) -> str:
        """The canonical question about `args["box"]`."""
        return prompt(as_box(args["box"]), codec, size)

    def constraint(self, args: Args, codec: Codec, vocabulary: Sequence[str]) -> str | None:
        """One category of `vocabulary`."""
        return answer_regex(vocabulary) if vocabulary else None

    def judge(self, text: str, expected: Args, codec: Codec, size: SizeLike) -> Judged:
        """Right when the one category named is `expected["category"]`."""
        got = parse(text, expected.get("vocabulary") or [expected["category"]])
        said = None if got is None else got.category or got.text
        return Judged(said == expected["category"], got is not None, said)
