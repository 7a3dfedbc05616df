"""Boxes with the phrase written before them, as Kosmos-2, MiniGPT-v2, Qwen2-VL and Florence-2 do.

Each of these families writes a label, then one or more boxes that belong to it
(`<p>sofas</p> {<57><49><70><72>}<delim>{<26><48><43><71>}`). The scanner walks label
and box matches left to right; a label holds for the boxes that follow it for as long
as only the family's joiner text (whitespace, delimiters) stands between them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from locvlm.coords._text import NUMBER
from locvlm.coords.base import Quad

__all__ = ["first_four", "scan_labeled"]

_NUMBER = re.compile(NUMBER)


def scan_labeled(
    text: str,
    pattern: re.Pattern[str],
    joiner: re.Pattern[str],
    read: Callable[[re.Match[str]], Quad | None],
) -> list[tuple[str | None, Quad]]:
    """Every box `pattern` finds in `text`, with the label written before it.

    Args:
        text: model output.
        pattern: alternation of a label (named group `label`) and one box.
        joiner: text allowed between a label and its boxes, or between two boxes.
        read: the normalized corners of a box match, or None to skip it.
    """
    found: list[tuple[str | None, Quad]] = []
    label: str | None = None
    end = 0
    for m in pattern.finditer(text):
        if joiner.fullmatch(text, end, m.start()) is None:
            label = None  # other text in between: the label no longer applies
        if m["label"] is not None:
            label = m["label"].strip() or None
        else:
            quad = read(m)
            if quad is not None:
                found.append((label, quad))
        end = m.end()
    return found


def first_four(text: str) -> tuple[float, float, float, float] | None:
    """The first four numbers in `text`, or None when it holds fewer (a truncated box)."""
    values = [float(v) for v in _NUMBER.findall(text)[:4]]
    if len(values) < 4:
        return None
    return values[0], values[1], values[2], values[3]
