"""Counting: "How many red circles are there?" -> `"2"` (digits, 0 for an absent one).

The question names the category in the plural (`plural`); the parser reads digits and
number words ("two", "no", "none").
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from locvlm.coords import Codec
from locvlm.tasks._plural import plural, singular
from locvlm.tasks._text import parse_number
from locvlm.tasks.base import Args, Judged, Scene, Task, Turn
from locvlm_client import SizeLike

__all__ = ["TEMPLATES", "CountingTask", "answer", "parse", "plural", "prompt", "singular"]

TEMPLATES = (
    "How many {plural} are there?",
    "How many {plural} are in the image?",
    "Count the {plural} in the image.",
    "What is the number of {plural} in the image?",
)
"""`{plural}` is the category in the plural: "red circles"."""


def prompt(phrase: str, template: int = 0) -> str:
    """The counting question about the singular `phrase` (canonical by default)."""
    return TEMPLATES[template].format(plural=plural(phrase))


def answer(count: int) -> str:
    """The target: the count in digits, `"2"`."""
    return str(count)


def answer_regex() -> str:
    """The output constraint: a count written as `answer` writes it."""
    return "[0-9]|[1-9][0-9]"


def parse(text: str) -> int | None:
    """The first number in `text` (digits or words; "no"/"none" is 0), None without one."""
    return parse_number(text)


class CountingTask(Task[int | None]):
    """Count a present category, or now and then an absent one (answer 0)."""

    name = "counting"
    templates = TEMPLATES

    def sample(
        self, scene: Scene, codec: Codec, rng: random.Random, vocabulary: Sequence[str]
    ) -> Turn[int | None] | None:
        """Ask about a random present category or one random absent vocabulary entry."""
        choices = scene.with_one_absent(vocabulary, rng)
        if not choices:
            return None
        phrase = rng.choice(choices)
        count = scene.count(phrase)
        question = prompt(phrase, rng.randrange(len(TEMPLATES)))
        return self.turn(question, answer(count), count)

    def read(
        self, text: str, codec: Codec, size: SizeLike, vocabulary: Sequence[str] = ()
    ) -> int | None:
        """See `parse`."""
        return parse(text)

    def prompt(self, args: Args, codec: Codec, size: SizeLike) -> str:
        """The canonical counting question about the singular `args["phrase"]`."""
        return prompt(args["phrase"])

    def constraint(self, args: Args, codec: Codec, vocabulary: Sequence[str]) -> str | None:
        """A count in digits."""
        return answer_regex()

    def judge(self, text: str, expected: Args, codec: Codec, size: SizeLike) -> Judged:
        """Right when the number read is `expected["count"]`."""
        got = parse(text)
        return Judged(got == expected["count"], got is not None, got)
