"""Florence-2: `label<loc_x1><loc_y1><loc_x2><loc_y2>`, 1000 bins per side.

Florence-2 writes each phrase followed by the location tokens of its boxes; boxes of
the same phrase follow each other. From transformers' Florence-2 integration test
(`<OD>` on a car photo):

    </s><s>car<loc_53><loc_333><loc_933><loc_774>door handle<loc_425><loc_503>...

The quantizer is Florence-2's `BoxQuantizer` in "floor" mode: a coordinate goes to bin
`floor(v * 1000)` clipped to 999 and comes back as the bin centre `(k + 0.5) / 1000`,
so `<loc_53>` on a 640 px wide image is x = 34.24 px. The label is the text between the
previous tag and the first `<loc_` of its boxes, stripped (as the post-processor does).

`encode` writes boxes only, no phrase: `<loc_15><loc_41><loc_468><loc_833>`, several
boxes concatenated with nothing between them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from locvlm.coords._ints import GridCodec, IntGrid
from locvlm.coords._labeled import scan_labeled
from locvlm.coords.base import Quad

__all__ = ["Florence2Codec"]

_LOC = r"<loc_(\d+)>"
# A label starts the text or follows a tag; possessive, so a long caption is one step.
_PATTERN = re.compile(r"(?:^|(?<=>))(?P<label>[^<>]++)(?=<loc_)|" + r"\s*".join([_LOC] * 4))
_JOINER = re.compile(r"\s*")


@dataclass(frozen=True)
class Florence2Codec(GridCodec):
    """Location tokens `<loc_k>`, k the bin of 1000 per side, x1 y1 x2 y2."""

    name = "florence2"
    separator = ""
    ints = IntGrid(scale=1000, top=999, cells=True)

    def encode_quad(self, quad: Quad, size: tuple[int, int]) -> str:
        """Four `<loc_k>` tokens."""
        return "".join(f"<loc_{k}>" for k in self.ints.write(quad))

    def parse(self, text: str, size: tuple[int, int]) -> list[tuple[str | None, Quad]]:
        """Every four `<loc_k>` tokens, with the phrase before them."""
        return scan_labeled(text, _PATTERN, _JOINER, lambda m: self.ints.read(m.groups()[1:]))

    @property
    def box_regex(self) -> str:
        """Four `<loc_k>` tokens, k in 0..999."""
        return f"<loc_{self.ints.value_regex}>" * 4
