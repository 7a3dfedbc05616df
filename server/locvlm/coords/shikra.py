"""Shikra: `[x1,y1,x2,y2]`, normalized floats with 3 decimals, boxes joined by `;`.

Shikra's `PlainBoxFormatter` (precision 3) writes the boxes of one object inside one
pair of brackets, numbers joined by `,` and boxes by `;`:

    [0.102,0.345,0.512,0.789;0.600,0.100,0.900,0.400]

Values are fractions of the image's width and height. Answers weave boxes into prose
without label markup ("A man[0.022,0.141,0.598,0.998] riding a horse"), so labels are
None. Decoding accepts any four numbers separated by commas or spaces.

`encode` writes `[0.016,0.042,0.469,0.833]`; several boxes `[a,b,c,d;e,f,g,h]`.
"""

from __future__ import annotations

from dataclasses import dataclass

from locvlm.coords._grouped import GroupedCodec
from locvlm.coords._text import find_quads
from locvlm.coords.base import Quad

__all__ = ["ShikraCodec"]

_VALUE = r"(?:0\.\d{3}|1\.000)"


@dataclass(frozen=True)
class ShikraCodec(GroupedCodec):
    """Normalized floats, 3 decimals, `[a,b,c,d;e,f,g,h]`."""

    name = "shikra"
    opener = "["
    closer = "]"
    separator = ";"

    def encode_quad(self, quad: Quad, size: tuple[int, int]) -> str:
        """Four 3-decimal floats joined by `,`."""
        return ",".join(f"{v:.3f}" for v in quad)

    def parse(self, text: str, size: tuple[int, int]) -> list[tuple[str | None, Quad]]:
        """Every run of four numbers, as fractions of the image."""
        return [(None, quad) for quad in find_quads(text)]

    @property
    def item_regex(self) -> str:
        """Four 3-decimal floats in [0, 1] joined by `,`."""
        return ",".join([_VALUE] * 4)

    @property
    def tolerance(self) -> float:
        """Half the last decimal."""
        return 0.0005
