"""PaliGemma: `<locYYYY><locXXXX><locYYYY><locXXXX> label`, y first, 1024 bins.

PaliGemma's detection answer lists each object as four location tokens, y1 x1 y2 x2,
then (after optional `<segNNN>` mask tokens) its label, objects joined by ` ; `. From
the example string of Google's `paligemma_parse.py` (big_vision demo):

    <loc0000><loc0000><loc0930><loc1012> <seg114>...<seg097> wall ; <loc0722><loc0047>...

Decoding divides by 1024 as that parser does (`int(loc) / 1024 * size`), so
`<loc0512>` is the middle of the image. The label is the text after the tokens, up to
the next `;` or tag, stripped.

`encode` writes boxes only, no label: `<loc0043><loc0016><loc0853><loc0480>`, several
boxes joined by ` ; `. Values are rounded and clipped to 1023, so the far edge comes
back 1/1024 short: the tolerance is one step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from locvlm.coords._ints import GridCodec, IntGrid
from locvlm.coords.base import Quad

__all__ = ["PaliGemmaCodec"]

_PATTERN = re.compile(
    r"\s*".join([r"<loc(\d+)>"] * 4) + r"(?:\s*<seg\d+>)*[ \t]*(?P<label>[^<;\n]*)"
)


@dataclass(frozen=True)
class PaliGemmaCodec(GridCodec):
    """Location tokens `<locNNNN>` of 1024 steps per side, y1 x1 y2 x2."""

    name = "paligemma"
    separator = " ; "
    ints = IntGrid(scale=1024, top=1023, yx=True, digits=4)

    def encode_quad(self, quad: Quad, size: tuple[int, int]) -> str:
        """Four `<locNNNN>` tokens, y1 x1 y2 x2."""
        return "".join(f"<loc{k}>" for k in self.ints.write(quad))

    def parse(self, text: str, size: tuple[int, int]) -> list[tuple[str | None, Quad]]:
        """Every four `<locNNNN>` tokens, with the label after them."""
        return [
            (m["label"].strip() or None, self.ints.read(m.groups()[:4]))
            for m in _PATTERN.finditer(text)
        ]

    @property
    def box_regex(self) -> str:
        """Four 4-digit `<locNNNN>` tokens, 0000..1023."""
        return f"<loc{self.ints.value_regex}>" * 4
