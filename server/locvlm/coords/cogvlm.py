"""CogVLM: `[[x1,y1,x2,y2]]`, relative coordinates x 1000, three digits zero-padded.

From the CogVLM README: "values as relative coordinates multiplied by 1000 (prefixed
with zeros to three digits)", e.g. `[[086,540,400,760]]` is x 0.086-0.400, y 0.540-0.760
of the image. Several boxes of one object share the outer brackets:
`[[086,540,400,760];[520,110,730,700]]`. Grounded captions carry no label markup
("a man[[086,540,400,760]] riding..."), so labels are None.

`encode` writes `[[016,042,469,833]]`, several boxes `[[a,b,c,d];[e,f,g,h]]`. Three
digits cannot say 1000, so the far edge is written 999: the tolerance is one step.
"""

from __future__ import annotations

from dataclasses import dataclass

from locvlm.coords._grouped import GroupedCodec
from locvlm.coords._ints import GridCodec, IntGrid
from locvlm.coords._text import find_quads
from locvlm.coords.base import Quad

__all__ = ["CogVLMCodec"]


@dataclass(frozen=True)
class CogVLMCodec(GridCodec, GroupedCodec):
    """Double brackets of 3-digit thousandths, x1 y1 x2 y2."""

    name = "cogvlm"
    opener = "["
    closer = "]"
    separator = ";"
    ints = IntGrid(scale=1000, top=999, digits=3)

    def encode_quad(self, quad: Quad, size: tuple[int, int]) -> str:
        """One `[a,b,c,d]` of 3-digit thousandths."""
        return "[" + ",".join(self.ints.write(quad)) + "]"

    def parse(self, text: str, size: tuple[int, int]) -> list[tuple[str | None, Quad]]:
        """Every run of four numbers, as thousandths."""
        return [(None, self.ints.read(values)) for values in find_quads(text)]

    @property
    def item_regex(self) -> str:
        """One `[a,b,c,d]` as `encode_quad` writes it."""
        return r"\[" + ",".join([self.ints.value_regex] * 4) + r"\]"
