"""Tolerant scanning of numbers in model text, shared by the bracket-list codecs."""

from __future__ import annotations

import re

__all__ = ["NUMBER", "find_quads", "to_float"]

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
"""A decimal number as models write it (sign, fraction and exponent optional)."""

# Four numbers in a row, separated by a comma and/or whitespace (never by nothing, so
# "1234" is one number), each number not glued to a word or another number.
_SEP = r"(?:\s*,\s*|\s+)"
_QUAD = re.compile(
    rf"(?<![\w.])({NUMBER}){_SEP}({NUMBER}){_SEP}({NUMBER}){_SEP}({NUMBER})(?![\w.]*\d)"
)


def to_float(text: str) -> float:
    """Parse a number matched by `NUMBER` (overflow becomes inf, which decode drops)."""
    return float(text)


def find_quads(text: str) -> list[tuple[float, float, float, float]]:
    """Every run of four numbers in `text`, left to right, without overlap.

    Brackets, semicolons and words between groups are ignored, so `[a, b, c, d]`,
    `a b c d`, `[a,b,c,d;e,f,g,h]` and a flattened `[a,b,c,d,e,f,g,h]` all work; a
    truncated last group (fewer than four numbers) is dropped.
    """
    return [(float(m[1]), float(m[2]), float(m[3]), float(m[4])) for m in _QUAD.finditer(text)]
