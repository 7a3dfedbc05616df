"""Stage-1 captions: "Describe the image." -> `"a red circle and two blue squares"`.

One item per category with its count (an article for one, a number word and the plural
beyond), categories in the reading order of their first instance; `"nothing"` for an
empty scene.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from locvlm.coords import Codec
from locvlm.tasks._plural import plural, singular
from locvlm.tasks._text import (
    NOTHING,
    join_and,
    normalize,
    number_word,
    parse_number,
    split_and,
    with_article,
)
from locvlm.tasks.base import Args, Scene, Task, Turn
from locvlm_client import SizeLike

__all__ = ["TEMPLATES", "CaptionTask", "Counts", "answer", "counts", "parse", "prompt"]

TEMPLATES = (
    "Describe the image.",
    "What is in the image?",
    "Give a short caption of the image.",
    "Say in one sentence what the image shows.",
)

Counts = tuple[tuple[int, str], ...]
"""`(count, category)` per category, in caption order."""

_ONE = frozenset({"a", "an", "one"})


def prompt(template: int = 0) -> str:
    """The caption request (the canonical one by default)."""
    return TEMPLATES[template]


def counts(scene: Scene) -> Counts:
    """The scene's categories with their counts, in the reading order of first instances."""
    return tuple((scene.count(category), category) for category in scene.categories)


def answer(items: Counts) -> str:
    """The target caption: `"a red circle and two blue squares"`, or `"nothing"`."""
    words = [_item(count, category) for count, category in items]
    return join_and(words) or NOTHING


def parse(text: str) -> Counts | None:
    """The `(count, category)` items of a caption.

    Empty for "nothing"; None when no item reads as a count and a phrase.
    """
    if normalize(text) == NOTHING:
        return ()
    items = (_read_item(item) for item in split_and(text))
    found = tuple(item for item in items if item is not None)
    return found or None


def _item(count: int, category: str) -> str:
    return with_article(category) if count == 1 else f"{number_word(count)} {plural(category)}"


def _read_item(text: str) -> tuple[int, str] | None:
    first, _, rest = text.lower().strip().partition(" ")
    count = 1 if first in _ONE else parse_number(first)
    phrase = normalize(rest)
    if count is None or not phrase:
        return None
    return count, phrase if count == 1 else singular(phrase)


class CaptionTask(Task[Counts | None]):
    """Caption a scene by listing its objects."""

    name = "caption"
    templates = TEMPLATES

    def sample(
        self, scene: Scene, codec: Codec, rng: random.Random, vocabulary: Sequence[str]
    ) -> Turn[Counts | None] | None:
        """The caption of `scene` with a random template (every scene has one)."""
        items = counts(scene)
        return self.turn(prompt(rng.randrange(len(TEMPLATES))), answer(items), items)

    def read(
        self, text: str, codec: Codec, size: SizeLike, vocabulary: Sequence[str] = ()
    ) -> Counts | None:
        """See `parse`."""
        return parse(text)

    def prompt(self, args: Args, codec: Codec, size: SizeLike) -> str:
        """The canonical caption request (it takes no arguments)."""
        return prompt()
