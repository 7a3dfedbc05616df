"""POPE-style presence: "Is there a purple diamond in the image?" -> `"yes"` / `"no"`.

The yes/no question that measures hallucination (Li et al. 2023, "POPE"), asked about
present and absent categories at even odds. A grounding-style absent answer
("There is no ...") counts as "no".
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from locvlm.coords import Codec
from locvlm.tasks._text import one_of, with_article, yes_no, yes_or_no
from locvlm.tasks.base import Args, Judged, Scene, Task, Turn
from locvlm.tasks.locpred import is_absent
from locvlm_client import SizeLike

__all__ = [
    "EXISTS_TEMPLATES",
    "ExistsTask",
    "exists_answer",
    "exists_choices",
    "exists_prompt",
    "parse_exists",
]

EXISTS_TEMPLATES = (
    "Is there {a_phrase} in the image?",
    "Does the image contain {a_phrase}?",
    "Can you see {a_phrase} in the image?",
    "Is {a_phrase} present in the image?",
)
"""The POPE-style question; `{a_phrase}` is the phrase with its article."""


def exists_choices() -> tuple[str, str]:
    """The answers the POPE-style question allows."""
    return exists_answer(True), exists_answer(False)


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

    def prompt(self, args: Args, codec: Codec, size: SizeLike) -> str:
        """The canonical presence question about `args["phrase"]`."""
        return exists_prompt(args["phrase"])

    def constraint(self, args: Args, codec: Codec, vocabulary: Sequence[str]) -> str | None:
        """Either "yes" or "no"."""
        return one_of(exists_choices())

    def judge(self, text: str, expected: Args, codec: Codec, size: SizeLike) -> Judged:
        """`expected["answer"]` is "yes" or "no"."""
        got = parse_exists(text)
        return Judged(
            got is not None and got == (expected["answer"] == "yes"), got is not None, got
        )
