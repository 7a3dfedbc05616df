"""MiniGPT-v2: `{<x1><y1><x2><y2>}`, integers relative to 0-100.

The MiniGPT-v2 paper writes a box as `{<Xleft><Ytop><Xright><Ybottom>}` with values
normalized to [0, 100]; in grounded answers the phrase comes first in `<p>...</p>` and
several boxes of one phrase are joined by `<delim>`. From the MiniGPT-v2 demo code:

    <p>sofas</p> {<57><49><70><72>}<delim>{<26><48><43><71>}

is two boxes labelled "sofas", the first x 0.57-0.70, y 0.49-0.72 of the image (the
demo divides by 100). Decoding tolerates missing braces, spaces inside the tokens and
GeoChat's trailing angle (`{<80><8><100><24>|<90>}`, ignored).

`encode` writes boxes only, no phrase: `{<2><4><47><83>}`, several joined by `<delim>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from locvlm.coords._ints import GridCodec, IntGrid
from locvlm.coords._labeled import scan_labeled
from locvlm.coords.base import Quad

__all__ = ["MiniGPTv2Codec"]

_PATTERN = re.compile(
    r"<p>(?P<label>[^<]*)</p>|\{?\s*"
    + r"\s*".join([r"<\s*(\d+)\s*>"] * 4)
    + r"(?:\s*\|\s*<\s*\d+\s*>)?\s*\}?"
)
_JOINER = re.compile(r"(?:\s|<delim>)*")


@dataclass(frozen=True)
class MiniGPTv2Codec(GridCodec):
    """Braced `<k>` tokens, k = coordinate x 100, x1 y1 x2 y2."""

    name = "minigpt_v2"
    separator = "<delim>"
    ints = IntGrid(scale=100, top=100)

    def encode_quad(self, quad: Quad, size: tuple[int, int]) -> str:
        """One `{<x1><y1><x2><y2>}`."""
        return "{" + "".join(f"<{k}>" for k in self.ints.write(quad)) + "}"

    def parse(self, text: str, size: tuple[int, int]) -> list[tuple[str | None, Quad]]:
        """Every four `<k>` tokens, with the `<p>` phrase before them."""
        return scan_labeled(text, _PATTERN, _JOINER, lambda m: self.ints.read(m.groups()[1:]))

    @property
    def box_regex(self) -> str:
        """One `{<x1><y1><x2><y2>}`, values 0..100."""
        return r"\{" + f"<{self.ints.value_regex}>" * 4 + r"\}"
