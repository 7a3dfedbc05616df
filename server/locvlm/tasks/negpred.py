"""Negative prediction (NegPred): asked where an absent object is, say it is not there.

The question is LocPred's own ("Where is the {phrase}?"); the target is an explicit
absence, `"There is no purple diamond."`. This is the objective that reduces
hallucination. The module also holds the POPE-style yes/no question used to measure it:
`"Is there a purple diamond in the image?"` -> `"yes"` / `"no"`.

`locpred.parse` recognises this module's absent answer, so this module cannot import
locpred; the registry hands LocPred's templates to `NegPredTask` instead.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from locvlm.coords import Codec
from locvlm.tasks._text import with_article, yes_no, yes_or_no
from locvlm.tasks.base import Scene, Task, Turn
from locvlm_client import SizeLike

__all__ = [
    "EXISTS_TEMPLATES",
    "ExistsTask",
    "NegPredTask",
    "answer",
    "exists_answer",
    "exists_prompt",
    "is_absent",
    "parse_exists",
]

_ABSENT = "There is no {phrase}."
# What counts as saying "absent": our own wording and the usual ways models put it.
_ABSENT_PATTERN = re.compile(
    r"\bthere (?:is|are) no\b|\bnot (?:present|visible|in the image)\b|^\W*(?:no|none|nothing)\b",
    re.IGNORECASE,
)

EXISTS_TEMPLATES = (
    "Is there {a_phrase} in the image?",
    "Does the image contain {a_phrase}?",
    "Can you see {a_phrase} in the image?",
    "Is {a_phrase} present in the image?",
)
"""The POPE-style question; `{a_phrase}` is the phrase with its article."""


def answer(phrase: str) -> str:
    """The NegPred target for an absent `phrase`: `"There is no purple diamond."`."""
    return _ABSENT.format(phrase=phrase)


def absent_regex(phrase: str) -> str:
    """The output constraint of the absent answer about `phrase`."""
    return re.escape(answer(phrase))


def exists_choices() -> tuple[str, str]:
    """The answers the POPE-style question allows."""
    return exists_answer(True), exists_answer(False)


def is_absent(text: str) -> bool:
    """Whether model `text` says the object is not in the image."""
    return _ABSENT_PATTERN.search(text) is not None


def exists_prompt(phrase: str, template: int = 0) -> str:
    """The yes/no presence question about `phrase` (the canonical one by default)."""
    return EXISTS_TEMPLATES[template].format(a_phrase=with_article(phrase))


def exists_answer(present: bool) -> str:
    """The target of the presence question: `"yes"` or `"no"`."""
    return yes_or_no(present)


def parse_exists(text: str) -> bool | None:
    """True for yes, False for no (an absent answer counts as no), None otherwise."""
    said = yes_no(text)
    if said is None and is_absent(text):
        return False
    return said


class NegPredTask(Task[bool]):
    """LocPred's question about an absent category; `read` is "did it say absent"."""

    name = "negpred"

    def __init__(self, questions: tuple[str, ...]) -> None:
        """Ask with `questions`, LocPred's templates (each with a `{phrase}` field)."""
        self.templates = questions

    def sample(
        self, scene: Scene, codec: Codec, rng: random.Random, vocabulary: Sequence[str]
    ) -> Turn[bool] | None:
        """Ask about a random vocabulary entry that the scene does not show."""
        absent = scene.absent(vocabulary)
        if not absent:
            return None
        phrase = rng.choice(absent)
        prompt = rng.choice(self.templates).format(phrase=phrase)
        return self.turn(prompt, answer(phrase), expected=True)

    def read(self, text: str, codec: Codec, size: SizeLike, vocabulary: Sequence[str] = ()) -> bool:
        """Whether `text` says the object is absent."""
        return is_absent(text)


class ExistsTask(Task[bool | None]):
    """The POPE-style presence question, half present and half absent objects."""

    name = "exists"
    templates = EXISTS_TEMPLATES

    def sample(
        self, scene: Scene, codec: Codec, rng: random.Random, vocabulary: Sequence[str]
    ) -> Turn[bool | None] | None:
        """Ask about a present category or an absent vocabulary entry, at even odds."""
        choices = {True: list(scene.categories), False: scene.absent(vocabulary)}
        options = [present for present, phrases in choices.items() if phrases]
        if not options:
            return None
        present = rng.choice(options)
        phrase = rng.choice(choices[present])
        prompt = exists_prompt(phrase, rng.randrange(len(self.templates)))
        return self.turn(prompt, exists_answer(present), expected=present)

    def read(
        self, text: str, codec: Codec, size: SizeLike, vocabulary: Sequence[str] = ()
    ) -> bool | None:
        """True, False or None (see `parse_exists`)."""
        return parse_exists(text)
