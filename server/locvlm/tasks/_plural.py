"""English plurals of category phrases: `"red circle"` <-> `"red circles"`.

Only the last word of a phrase changes. The rules cover regular nouns and the usual
endings (`box` -> `boxes`, `berry` -> `berries`); a small table covers irregular nouns
that grounding vocabularies such as COCO use. `singular` inverts `plural` for every noun
the rules or the table produce, and is a best guess for others.
"""

from __future__ import annotations

import re

__all__ = ["plural", "singular"]

_IRREGULAR = {
    "person": "people",
    "man": "men",
    "woman": "women",
    "child": "children",
    "mouse": "mice",
    "foot": "feet",
    "tooth": "teeth",
    "goose": "geese",
    "bus": "buses",
    "knife": "knives",
    "leaf": "leaves",
    "shelf": "shelves",
    "wolf": "wolves",
    "half": "halves",
    "potato": "potatoes",
    "tomato": "tomatoes",
    "tie": "ties",  # listed so that singular does not guess "ty"
    "cookie": "cookies",
    "movie": "movies",
}
_SINGULAR = {v: k for k, v in _IRREGULAR.items()}
_UNCHANGED = frozenset({"sheep", "fish", "deer", "series", "species", "aircraft"})

_Rules = tuple[tuple[re.Pattern[str], str], ...]

# (pattern on the singular, replacement); the first that matches applies.
_PLURAL_RULES: _Rules = (
    (re.compile(r"([^aeiou])y$"), r"\1ies"),
    (re.compile(r"(s|x|z|ch|sh)$"), r"\1es"),
    (re.compile(r"$"), "s"),  # every other noun
)
# (pattern on the plural, replacement); the first that matches applies.
_SINGULAR_RULES: _Rules = (
    (re.compile(r"([^aeiou])ies$"), r"\1y"),
    (re.compile(r"(ss|x|z|ch|sh)es$"), r"\1"),
    (re.compile(r"([^s])s$"), r"\1"),
    (re.compile(r"$"), ""),  # not a plural we know: kept as it is
)


def plural(phrase: str) -> str:
    """The plural of a noun phrase: `"wine glass"` -> `"wine glasses"`."""
    return _last_word(phrase, _IRREGULAR, _PLURAL_RULES)


def singular(plural_phrase: str) -> str:
    """The singular of a plural noun phrase: `"red circles"` -> `"red circle"`."""
    return _last_word(plural_phrase, _SINGULAR, _SINGULAR_RULES)


def _last_word(phrase: str, table: dict[str, str], rules: _Rules) -> str:
    head, sep, word = phrase.rpartition(" ")
    if not word or word in _UNCHANGED:
        return phrase
    if word in table:
        return head + sep + table[word]
    pattern, replacement = next((p, r) for p, r in rules if p.search(word))
    return head + sep + pattern.sub(replacement, word, count=1)
