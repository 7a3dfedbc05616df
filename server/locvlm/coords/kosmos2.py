"""Kosmos-2: `<patch_index_NNNN>` pairs, top-left and bottom-right cells of a 32 x 32 grid.

Kosmos-2 grounds a `<phrase>` with an `<object>` holding two patch indices (cells
numbered row by row from the top-left); several boxes of one phrase are joined by
`</delimiter_of_multi_objects/>`. From the transformers Kosmos-2 docs:

    <grounding> An image of<phrase> a snowman</phrase><object><patch_index_0044>
    <patch_index_0863></object> warming himself by<phrase> a fire</phrase><object>...

Decoding follows transformers' `patch_index_to_coordinate`: the box runs from the centre
of the first cell to the centre of the second, except when both cells share a row or a
column (or are the same cell), where it covers both cells whole. So the snowman is
(0.390625, 0.046875, 0.984375, 0.828125), labelled "a snowman" (stripped).

`encode` follows `coordinate_to_patch_index` (first cell `floor(x * 32)`, last cell
`ceil(x * 32 - 1)`, clipped to the grid) and writes no phrase:
`<object><patch_index_0032><patch_index_0846></object>`. The whole-cell special case
can move an edge by up to one cell, so the tolerance is `1 / grid`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from locvlm.coords._grouped import GroupedCodec
from locvlm.coords._ints import padded_int_range
from locvlm.coords._labeled import scan_labeled
from locvlm.coords.base import Quad

__all__ = ["Kosmos2Codec"]

_PATTERN = re.compile(
    r"<phrase>(?P<label>[^<]*)</phrase>|<patch_index_(\d{1,9})>\s*<patch_index_(\d{1,9})>"
)
_JOINER = re.compile(r"(?:\s|</?object>|</delimiter_of_multi_objects/>)*")


@dataclass(frozen=True)
class Kosmos2Codec(GroupedCodec):
    """Two patch indices per box on a `grid` x `grid` grid."""

    name = "kosmos2"
    opener = "<object>"
    closer = "</object>"
    separator = "</delimiter_of_multi_objects/>"
    grid: int = 32  # num_patches_per_side of the released checkpoints (1024 index tokens)

    def __post_init__(self) -> None:
        if not 2 <= self.grid <= 100:  # indices are written with 4 digits
            raise ValueError(f"kosmos2 grid must be 2..100, got {self.grid}")

    def encode_quad(self, quad: Quad, size: tuple[int, int]) -> str:
        """The two patch indices of the box."""
        g = self.grid
        x1, y1, x2, y2 = quad
        first = self._cell(math.floor(y1 * g)) * g + self._cell(math.floor(x1 * g))
        last = self._cell(math.ceil(y2 * g - 1)) * g + self._cell(math.ceil(x2 * g - 1))
        return f"<patch_index_{first:04d}><patch_index_{last:04d}>"

    def parse(self, text: str, size: tuple[int, int]) -> list[tuple[str | None, Quad]]:
        """Every pair of patch indices, with the `<phrase>` before it."""
        return scan_labeled(text, _PATTERN, _JOINER, self._read)

    def _cell(self, k: int) -> int:
        return min(max(k, 0), self.grid - 1)

    def _read(self, m: re.Match[str]) -> Quad | None:
        first, last = int(m[2]), int(m[3])
        if max(first, last) >= self.grid * self.grid:
            return None  # no such patch: not a box this model can mean
        row1, col1 = divmod(first, self.grid)
        row2, col2 = divmod(last, self.grid)
        cell = 1.0 / self.grid
        if row1 == row2 or col1 == col2:  # transformers' whole-cell case
            return col1 * cell, row1 * cell, (col2 + 1) * cell, (row2 + 1) * cell
        half = cell / 2
        return col1 * cell + half, row1 * cell + half, col2 * cell + half, row2 * cell + half

    @property
    def item_regex(self) -> str:
        """Two 4-digit patch indices."""
        index = padded_int_range(self.grid * self.grid - 1, 4)
        return f"<patch_index_{index}><patch_index_{index}>"

    @property
    def tolerance(self) -> float:
        """One grid cell: the whole-cell case moves an edge by up to a cell."""
        return 1.0 / self.grid
