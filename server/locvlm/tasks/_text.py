"""Small English helpers the task modules share: articles, numbers, lists, yes/no.

Only wording that belongs to no single task lives here; a task's own prompts and answers
stay in its module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = [
    "NOTHING",
    "join_and",
    "match_vocabulary",
    "normalize",
    "number_word",
    "parse_number",
    "split_and",
    "with_article",
    "yes_no",
    "yes_or_no",
]

NOTHING = "nothing"
"""The answer of every listing task when there is nothing to list."""

_ARTICLES = frozenset({"a", "an", "the"})
_NUMBER_WORDS = (
    *("zero", "one", "two", "three", "four", "five"),
    *("six", "seven", "eight", "nine", "ten"),
)
# "no"/"none" count as zero ("there are no red circles"); the first number in text wins.
_NUMBER = re.compile(r"\b([0-9]{1,9}|" + "|".join((*_NUMBER_WORDS, "none", "no")) + r")\b")
_YES_NO = re.compile(r"\b(yes|no)\b")
_NOT_WORD = re.compile(r"[^\w\s'-]")
_AND = re.compile(r"\s*(?:,|\band\b)\s*")


def one_of(words: Iterable[str]) -> str:
    """A regex matching exactly one of `words` (longest first), for output constraints."""
    return "(?:" + "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)) + ")"


def normalize(text: str) -> str:
    """Lowercase, punctuation dropped, whitespace collapsed, leading articles removed.

    `"  The Red circle."` -> `"red circle"`.
    """
    words = _NOT_WORD.sub(" ", text.lower()).split()
    while words and words[0] in _ARTICLES:
        words.pop(0)
    return " ".join(words)


def with_article(phrase: str) -> str:
    """`phrase` with its indefinite article: `"an orange circle"`, `"a red square"`."""
    article = "an" if phrase[:1].lower() in set("aeiou") else "a"
    return f"{article} {phrase}"


def number_word(n: int) -> str:
    """`n` in words up to ten (`"two"`), in digits beyond."""
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else str(n)


def parse_number(text: str) -> int | None:
    """The first number in `text`, written in digits or words (`"no"` is 0); None if none."""
    found = _NUMBER.search(text.lower())
    if found is None:
        return None
    word = found[1]
    if word.isdigit():
        return int(word)
    return _NUMBER_WORDS.index(word) if word in _NUMBER_WORDS else 0


def join_and(items: Sequence[str]) -> str:
    """`"a"`, `"a and b"`, `"a, b and c"`."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def split_and(text: str) -> list[str]:
    """The items of a `join_and` list, stripped; empty items dropped."""
    return [item for item in _AND.split(text) if item]


def yes_no(text: str) -> bool | None:
    """True for an answer whose first yes/no word is "yes", False for "no", else None."""
    found = _YES_NO.search(text.lower())
    return None if found is None else found[1] == "yes"


def yes_or_no(flag: bool) -> str:
    """The yes/no answer word: `"yes"` or `"no"`."""
    return "yes" if flag else "no"


def match_vocabulary(text: str, vocabulary: Iterable[str]) -> str | None:
    """The vocabulary entry that `text` names, or None (none, or several).

    An entry equal to `text` after `normalize` wins; else the one entry found in it as
    whole words (`"it is a red circle"` -> `"red circle"`), where an entry inside a longer
    one found there does not count (`"circle"` in `"red circle"`). A text that names two
    entries (`"red circle and blue square"`) names neither.
    """
    said = normalize(text)
    padded = f" {said} "
    found: dict[str, str] = {}  # entry -> its words, padded
    for entry in vocabulary:
        name = normalize(entry)
        if name == said:
            return entry
        if name and f" {name} " in padded:
            found[entry] = f" {name} "
    named = {e for e, w in found.items() if not any(o != e and w in found[o] for o in found)}
    return named.pop() if len(named) == 1 else None
