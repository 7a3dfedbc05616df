"""Motion questions about a clip: which way an object moves, and where it ends up.

- direction: "Which way does the red circle move?" -> `"left"`, `"right"`, `"up"` or
  `"down"`. Asked only when the motion from the first to the last frame is clearly along
  one axis (the net shift on it is at least `MIN_SHIFT` of the shorter image side and at
  least `DOMINANCE` times all the travel on the other axis) and the object did not
  bounce on that axis (every step goes the same way).
- end relation: "Does the red circle end up left of the blue square?" -> `"yes"`/`"no"`,
  decided on the last frame, between objects whose category appears once there and whose
  boxes do not overlap on the relation's axis.

A `Clip` is a `Scene` (its last frame) that also holds every frame, so a plain scene is
a clip seen only at its end: it gets end-relation questions only. Objects are followed
by category: a category that appears exactly once in every frame has a track.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from locvlm.coords import Codec
from locvlm.coords.relations import Relation
from locvlm.tasks._text import yes_or_no
from locvlm.tasks.base import Args, Scene, Task, Turn, defined_relations
from locvlm_client import Box, SizeLike, as_size

__all__ = [
    "DIRECTION_TEMPLATES",
    "DOMINANCE",
    "END_TEMPLATES",
    "MIN_SHIFT",
    "Clip",
    "Direction",
    "MotionTask",
    "MotionValue",
    "answer",
    "direction",
    "direction_prompt",
    "end_prompt",
    "parse",
    "prompt_for",
]

DIRECTION_TEMPLATES = (
    "Which way does the {phrase} move?",
    "In which direction does the {phrase} move?",
    "Which way is the {phrase} moving: left, right, up or down?",
)
END_TEMPLATES = (
    "Does the {subject} end up {relation} the {reference}?",
    "At the end of the clip, is the {subject} {relation} the {reference}?",
    "In the last frame, is the {subject} {relation} the {reference}?",
)

MIN_SHIFT = 0.1  # of the shorter side: about two object widths' worth is "moving"
DOMINANCE = 2.0  # net shift vs travel across: within ~27 degrees of the axis


class Direction(StrEnum):
    """The way an object moves; the value is the answer word."""

    LEFT = "left"
    RIGHT = "right"
    UP = "up"
    DOWN = "down"


MotionValue = Direction | bool
"""A direction, or the yes/no answer of an end-relation question."""

# Per axis (x, y): the direction of a negative and of a positive net shift.
_WAYS = ((Direction.LEFT, Direction.RIGHT), (Direction.UP, Direction.DOWN))
_WORD = re.compile(r"\b(yes|no|" + "|".join(Direction) + r")\b")
_END_UP = re.compile(r"\bends?\s+up\b")  # "ends up left of" is no upward motion


@dataclass(frozen=True)
class Clip(Scene):
    """A clip: its last frame as a `Scene`, plus every frame's scene in order."""

    frames: tuple[Scene, ...] = ()

    @classmethod
    def of(cls, frames: Sequence[Scene]) -> Clip:
        """The clip of `frames` (at least one, all of the same size)."""
        if not frames:
            raise ValueError("a clip needs at least one frame")
        last = frames[-1]
        return cls(size=last.size, objects=last.objects, frames=tuple(frames))

    def track(self, category: str) -> tuple[Box, ...] | None:
        """The boxes of `category` frame by frame, if it appears once in every frame."""
        if not self.frames or any(frame.count(category) != 1 for frame in self.frames):
            return None
        return tuple(frame.instances(category)[0].box for frame in self.frames)


def direction(track: Sequence[Box], size: SizeLike) -> Direction | None:
    """The way a track of boxes moves, or None when it is not clearly one way."""
    centers = [box.center for box in track]
    steps = [(b[0] - a[0], b[1] - a[1]) for a, b in pairwise(centers)]
    for axis in (0, 1):
        moves = [step[axis] for step in steps]
        across = sum(abs(step[1 - axis]) for step in steps)
        net = sum(moves)
        one_way = all(m >= 0 for m in moves) or all(m <= 0 for m in moves)
        if one_way and abs(net) >= max(MIN_SHIFT * min(as_size(size)), DOMINANCE * across):
            return _WAYS[axis][net > 0]
    return None


def direction_prompt(phrase: str, template: int = 0) -> str:
    """The question "Which way does the {phrase} move?" (canonical by default)."""
    return DIRECTION_TEMPLATES[template].format(phrase=phrase)


def end_prompt(subject: str, rel: Relation, reference: str, template: int = 0) -> str:
    """The question "Does the {subject} end up {rel} the {reference}?" (canonical by default)."""
    return END_TEMPLATES[template].format(subject=subject, relation=rel.value, reference=reference)


def prompt_for(args: Mapping[str, str]) -> str:
    """The canonical question for benchmark `args`: `{phrase}` or `{subject, relation, reference}`.

    Raises:
        KeyError: when `args` holds neither set of fields.
    """
    if "phrase" in args:
        return direction_prompt(args["phrase"])
    return end_prompt(args["subject"], Relation(args["relation"]), args["reference"])


def answer(value: MotionValue) -> str:
    """The target: the direction word, or `"yes"` / `"no"`."""
    return yes_or_no(value) if isinstance(value, bool) else value.value


def parse(text: str) -> MotionValue | None:
    """The first answer word in `text` (yes/no or a direction); None without one."""
    found = _WORD.search(_END_UP.sub(" ", text.lower()))
    if found is None:
        return None
    word = found[1]
    return word == "yes" if word in ("yes", "no") else Direction(word)


_Question = tuple[str, MotionValue]


def _direction_question(scene: Scene, rng: random.Random) -> _Question | None:
    if not isinstance(scene, Clip):
        return None
    moving = [
        (category, way)
        for category in scene.categories
        if (track := scene.track(category)) and (way := direction(track, scene.size))
    ]
    if not moving:
        return None
    phrase, way = rng.choice(moving)
    return direction_prompt(phrase, rng.randrange(len(DIRECTION_TEMPLATES))), way


def _end_question(scene: Scene, rng: random.Random) -> _Question | None:
    facts = [(a, b, rel) for a in scene.singles for b in scene.singles for rel in
             (defined_relations(a, b) if a is not b else ())]  # fmt: skip
    if not facts:
        return None
    a, b, holds = rng.choice(facts)
    asked = rng.choice((holds, holds.inverse))
    template = rng.randrange(len(END_TEMPLATES))
    return end_prompt(a.category, asked, b.category, template), asked is holds


class MotionTask(Task[MotionValue | None]):
    """Which way an object moves in a clip, or where it ends up relative to another."""

    name = "motion"
    templates = DIRECTION_TEMPLATES + END_TEMPLATES

    def sample(
        self, scene: Scene, codec: Codec, rng: random.Random, vocabulary: Sequence[str]
    ) -> Turn[MotionValue | None] | None:
        """A direction or an end-relation question, at even odds when both exist."""
        found = [q for q in (_direction_question(scene, rng), _end_question(scene, rng)) if q]
        if not found:
            return None
        question, value = rng.choice(found)
        return self.turn(question, answer(value), value)

    def read(
        self, text: str, codec: Codec, size: SizeLike, vocabulary: Sequence[str] = ()
    ) -> MotionValue | None:
        """See `parse`."""
        return parse(text)

    def prompt(self, args: Args, codec: Codec, size: SizeLike) -> str:
        """See `prompt_for`."""
        return prompt_for(args)
