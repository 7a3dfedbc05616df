"""Tolerant reading of the JSON box lists Qwen2.5-VL, Qwen3-VL and Gemini write.

`[{"bbox_2d": [x1, y1, x2, y2], "label": "cat"}]`, often in a ```json fence. Models
break JSON in predictable ways, so no JSON parser is used: a bracket scanner finds every
complete `{...}` object (string-aware, at any depth), and a regex reads the box key and
the label inside each. So fences, prose around the JSON, a single object instead of a
list, trailing commas and missing commas between numbers do not matter; an object whose
closing brace is missing right before the list's `]` still counts; an object cut off by
truncation is dropped, and the complete objects before it are kept.
"""

from __future__ import annotations

import functools
import json
import re
from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from locvlm.coords._grouped import GroupedCodec
from locvlm.coords._ints import GridCodec
from locvlm.coords._text import NUMBER
from locvlm.coords.base import Quad

__all__ = ["GridJsonCodec", "JsonCodec", "Values", "json_boxes"]

_SEP = r"(?:\s*,\s*|\s+)"
_SPECIAL = re.compile(r'[{}\[\]"\\]')
_OPENER = {"}": "{", "]": "["}
_LABEL = re.compile(r"""["']label["']\s*:\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")

Values = tuple[float, float, float, float]
_Open = tuple[str, int, list[tuple[int, int]]]
"""An open bracket: the bracket, where it opens, the spans of the objects closed inside."""


def json_boxes(text: str, key: str) -> list[tuple[str | None, Values]]:
    """(label, four numbers) of each complete object in `text` that has `key`.

    Numbers are returned as written, in the order written; one box per object.
    """
    pattern = _key_pattern(key)
    found: list[tuple[str | None, Values]] = []
    for own in _objects(text):
        m = pattern.search(own)
        if m is not None:
            found.append((_label(own), (float(m[1]), float(m[2]), float(m[3]), float(m[4]))))
    return found


@functools.lru_cache(maxsize=16)
def _key_pattern(key: str) -> re.Pattern[str]:
    # `(?<!\w)`: Gemini's `box_2d` must not match inside Qwen's `bbox_2d`
    number = f"({NUMBER})"
    return re.compile(rf"(?<!\w)[\"']?{re.escape(key)}[\"']?\s*:[\s\[]*" + _SEP.join([number] * 4))


def _label(own: str) -> str | None:
    m = _LABEL.search(own)
    if m is None:
        return None
    raw = m[1] if m[1] is not None else m[2]
    try:
        value = json.loads(f'"{raw}"')
    except ValueError:
        value = raw
    return str(value).strip() or None


def _objects(text: str) -> list[str]:
    """The text of every complete object, nested objects blanked out, by opening order."""
    done: list[tuple[int, str]] = []
    stack: list[_Open] = []
    depth = {"{": 0, "[": 0}
    in_string, skip = False, 0
    for m in _SPECIAL.finditer(text):
        i, ch = m.start(), m[0]
        if i < skip:
            continue
        if in_string:  # only an escape or the closing quote matter inside a string
            skip = i + 2 if ch == "\\" else skip
            in_string = ch != '"'
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append((ch, i, []))
            depth[ch] += 1
        elif ch in "}]" and depth[_OPENER[ch]]:
            _close(text, stack, depth, _OPENER[ch], i, done)
    return [own for _, own in sorted(done)]


def _close(
    text: str,
    stack: list[_Open],
    depth: dict[str, int],
    opener: str,
    at: int,
    done: list[tuple[int, str]],
) -> None:
    """Pop up to the matching `opener`; objects popped on the way are closed at `at`."""
    while stack:
        bracket, start, children = stack.pop()
        depth[bracket] -= 1
        if bracket == "{":
            end = at + 1 if opener == "{" else at
            done.append((start, _blank(text, start, end, children)))
            parent = next((e for e in reversed(stack) if e[0] == "{"), None)
            if parent is not None:
                parent[2].append((start, end))
        if bracket == opener:
            return


def _blank(text: str, start: int, end: int, children: list[tuple[int, int]]) -> str:
    parts, pos = [], start
    for child_start, child_end in children:
        parts.append(text[pos:child_start])
        pos = child_end
    parts.append(text[pos:end])
    return " ".join(parts)


@dataclass(frozen=True)
class JsonCodec(GroupedCodec):
    """A JSON list of `{"<key>": [a, b, c, d]}` objects; `encode` writes no label."""

    key: ClassVar[str]
    opener = "["
    closer = "]"
    separator = ", "

    @abstractmethod
    def to_values(self, quad: Quad, size: tuple[int, int]) -> tuple[str, str, str, str]:
        """The four numbers of ordered corners, as text, in the family's order."""

    @abstractmethod
    def to_quad(self, values: Values, size: tuple[int, int]) -> Quad:
        """Normalized corners from the four numbers the model wrote."""

    @property
    @abstractmethod
    def value_regexes(self) -> tuple[str, str]:
        """Regexes of the first and second number of each corner."""

    def encode_quad(self, quad: Quad, size: tuple[int, int]) -> str:
        return f'{{"{self.key}": [{", ".join(self.to_values(quad, size))}]}}'

    def parse(self, text: str, size: tuple[int, int]) -> list[tuple[str | None, Quad]]:
        return [(label, self.to_quad(v, size)) for label, v in json_boxes(text, self.key)]

    @property
    def item_regex(self) -> str:
        first, second = self.value_regexes
        values = ", ".join([first, second, first, second])
        return rf'\{{"{re.escape(self.key)}": \[{values}\]\}}'


@dataclass(frozen=True)
class GridJsonCodec(GridCodec, JsonCodec):
    """A JSON family whose numbers lie on one `IntGrid` (class variable `ints`)."""

    def to_values(self, quad: Quad, size: tuple[int, int]) -> tuple[str, str, str, str]:
        return self.ints.write(quad)

    def to_quad(self, values: Values, size: tuple[int, int]) -> Quad:
        return self.ints.read(values)

    @property
    def value_regexes(self) -> tuple[str, str]:
        return self.ints.value_regex, self.ints.value_regex
