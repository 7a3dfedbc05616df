"""Location prediction (LocPred): "Where is the red circle?" -> every instance's box.

The target is the boxes alone, written by the codec and joined by its separator, in
reading order (top to bottom by the top edge, then left to right): with IVB,
`"[12, 40, 30, 58]; [60, 35, 80, 55]"`. The question about an absent category is
NegPred's, and `parse` recognises NegPred's absent answer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from locvlm.coords import Codec
from locvlm.tasks import negpred
from locvlm.tasks.base import Scene, Task, Turn, reading_key
from locvlm_client import Box, SizeLike

__all__ = ["TEMPLATES", "Location", "LocPredTask", "answer", "parse", "prompt"]

TEMPLATES = (
    "Where is the {phrase}?",
    "Locate the {phrase} in the image.",
    "Find the {phrase}.",
    "Give the bounding box of the {phrase}.",
    "Where can the {phrase} be found?",
)
"""The grounding question; NegPred asks the same about absent categories."""


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
    """The target: `boxes` in reading order, written by `codec`.

    An absent object has no LocPred answer: its target is `negpred.answer`.
    """
    return codec.encode(sorted(boxes, key=reading_key), size)


def answer_regex(phrase: str, codec: Codec) -> str:
    """The output constraint: the codec's boxes, or NegPred's absent answer."""
    return f"(?:{codec.regex})|(?:{negpred.absent_regex(phrase)})"


def parse(text: str, codec: Codec, size: SizeLike) -> Location | None:
    """The boxes in `text`, or no boxes for NegPred's absent answer; None for neither."""
    if negpred.is_absent(text):
        return Location(boxes=())
    boxes = codec.decode(text, size)
    return Location(boxes=tuple(boxes)) if boxes else None


class LocPredTask(Task[Location | None]):
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
