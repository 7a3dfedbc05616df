"""Qwen2-VL: `<|box_start|>(x1,y1),(x2,y2)<|box_end|>`, integers relative to 0-1000.

The grounding format of the Qwen2-VL report and model card: the phrase between
`<|object_ref_start|>` and `<|object_ref_end|>`, then one box token group per instance:

    <|object_ref_start|>birch tree<|object_ref_end|><|box_start|>(530,351),(602,516)<|box_end|>

is the box (0.530, 0.351, 0.602, 0.516) of the image, labelled "birch tree". Several
boxes follow each other with nothing between them. Decoding also accepts bare
`(x1,y1),(x2,y2)` (special tokens stripped by `skip_special_tokens=True`) and any four
numbers between `<|box_start|>` and `<|box_end|>`.

`encode` writes boxes only, no `<|object_ref_*|>` label:
`<|box_start|>(16,42),(469,833)<|box_end|>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from locvlm.coords._ints import GridCodec, IntGrid
from locvlm.coords._labeled import first_four, scan_labeled
from locvlm.coords._text import NUMBER
from locvlm.coords.base import Quad

__all__ = ["QWEN_GRID", "Qwen2VLCodec", "find_tuple_boxes"]

QWEN_GRID = IntGrid(scale=1000, top=1000)
"""Qwen2-VL and Qwen3-VL relative coordinates: `value * 1000`, rounded."""

_N = rf"\s*{NUMBER}\s*"
_PATTERN = re.compile(
    r"<\|object_ref_start\|>(?P<label>[^<]*)<\|object_ref_end\|>"
    r"|<\|box_start\|>[^<]*(?:<\|box_end\|>)?"
    rf"|\({_N},{_N}\)\s*,?\s*\({_N},{_N}\)"
)
_JOINER = re.compile(r"[\s,;]*")


def _read(m: re.Match[str]) -> Quad | None:
    values = first_four(m[0])
    return None if values is None else QWEN_GRID.read(values)


def find_tuple_boxes(text: str) -> list[tuple[str | None, Quad]]:
    """Every `(x1,y1),(x2,y2)` box in `text` (0-1000), with its `object_ref` label."""
    return scan_labeled(text, _PATTERN, _JOINER, _read)


@dataclass(frozen=True)
class Qwen2VLCodec(GridCodec):
    """Qwen2-VL box tokens around `(x1,y1),(x2,y2)` on a 0-1000 scale."""

    name = "qwen2_vl"
    separator = ""
    ints = QWEN_GRID

    def encode_quad(self, quad: Quad, size: tuple[int, int]) -> str:
        """One `<|box_start|>(x1,y1),(x2,y2)<|box_end|>`."""
        x1, y1, x2, y2 = self.ints.write(quad)
        return f"<|box_start|>({x1},{y1}),({x2},{y2})<|box_end|>"

    def parse(self, text: str, size: tuple[int, int]) -> list[tuple[str | None, Quad]]:
        """Every tuple box, with its `object_ref` label."""
        return find_tuple_boxes(text)

    @property
    def box_regex(self) -> str:
        """One box-token group, values 0..1000."""
        v = self.ints.value_regex
        return rf"<\|box_start\|>\({v},{v}\),\({v},{v}\)<\|box_end\|>"
