"""DIGA: deviation from image-grid anchors, the paper's third representation.

The image is cut into `bins` cells per side (as IVB) and, coarser, into `grid` x `grid`
anchor cells whose centres are the anchors, numbered row by row from the top-left
(`index = row * grid + column`). A box corner is written as its anchor's index and the
signed offsets, in bins, from that anchor to the corner: `A<index><+dx><+dy>`, signs
always written so the text is unambiguous. A box is its two corners.

Example, 100 bins and a 10 x 10 grid (anchors at bins 5, 15, ..., 95): the IVB box
`[27, 62, 74, 99]` has its top-left corner in anchor cell (column 2, row 6) = index 62,
anchor (25, 65), offsets (+2, -3); its bottom-right corner in cell (7, 9) = index 97,
anchor (75, 95), offsets (-1, +4). DIGA writes it `[A62+2-3, A97-1+4]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from typing_extensions import override

from locvlm.coords._bins import from_bin, to_bin
from locvlm.coords._regex import int_range
from locvlm.coords.base import Codec, Quad

__all__ = ["DIGACodec"]

_CORNER = re.compile(r"A\s*(\d{1,9})\s*([+-])\s*(\d{1,9})\s*([+-])\s*(\d{1,9})")


@dataclass(frozen=True)
class DIGACodec(Codec):
    """Anchor index plus offset; `grid` anchors per side over `bins` cells per side."""

    name = "diga"
    grid: int = 10  # 100 anchors: small indices, offsets of at most +-5 bins
    bins: int = 100  # same resolution as the default IVB, so the two compare fairly

    def __post_init__(self) -> None:
        if not 1 <= self.grid <= 1000 or not 2 <= self.bins <= 100_000:
            raise ValueError(f"diga needs 1 <= grid <= 1000 and 2 <= bins, got {self}")
        if self.bins % self.grid:
            raise ValueError(f"diga bins ({self.bins}) must be a multiple of grid ({self.grid})")

    @property
    def _step(self) -> int:
        return self.bins // self.grid

    def _corner(self, x: float, y: float) -> str:
        step = self._step
        qx, qy = to_bin(x, self.bins), to_bin(y, self.bins)
        col, row = qx // step, qy // step
        dx, dy = qx - (col * step + step // 2), qy - (row * step + step // 2)
        return f"A{row * self.grid + col}{dx:+d}{dy:+d}"

    @override
    def encode_quad(self, quad: Quad, size: tuple[int, int]) -> str:
        x1, y1, x2, y2 = quad
        return f"[{self._corner(x1, y1)}, {self._corner(x2, y2)}]"

    def _uncorner(self, m: re.Match[str]) -> tuple[float, float]:
        index = int(m[1])
        if index >= self.grid * self.grid:
            return float("nan"), float("nan")  # no such anchor: the box is dropped
        step = self._step
        row, col = divmod(index, self.grid)
        qx = col * step + step // 2 + int(m[2] + m[3])
        qy = row * step + step // 2 + int(m[4] + m[5])
        return from_bin(qx, self.bins), from_bin(qy, self.bins)

    @override
    def parse(self, text: str, size: tuple[int, int]) -> list[tuple[str | None, Quad]]:
        corners = [self._uncorner(m) for m in _CORNER.finditer(text)]
        return [
            (None, (*corners[i], *corners[i + 1]))
            for i in range(0, len(corners) - 1, 2)  # an unpaired last corner is truncation
        ]

    @property
    @override
    def box_regex(self) -> str:
        index = int_range(0, self.grid * self.grid - 1)
        offset = "[+-]" + int_range(0, self._step // 2)
        corner = f"A{index}{offset}{offset}"
        return rf"\[{corner}, {corner}\]"

    @property
    @override
    def tolerance(self) -> float:
        return 0.5 / self.bins
