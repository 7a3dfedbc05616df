"""IVB: integer-valued binning, the representation that worked best in the paper.

The image is cut into `bins` equal cells per side and a coordinate is written as the
index of its cell: `[27, 62, 74, 99]` with 100 bins. Decoding returns the cell centre.
The paper's grid matched its 224 px input; here `bins` is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing_extensions import override

from locvlm.coords._bins import from_bin, to_bin
from locvlm.coords._regex import int_range
from locvlm.coords._text import find_quads
from locvlm.coords.base import Codec, Quad

__all__ = ["IVBCodec"]


@dataclass(frozen=True)
class IVBCodec(Codec):
    """Integer bins, `bins` cells per image side."""

    name = "ivb"
    bins: int = 100  # two-digit numbers: one token each for a small vocabulary

    def __post_init__(self) -> None:
        if not 2 <= self.bins <= 100_000:
            raise ValueError(f"ivb bins must be 2..100000, got {self.bins}")

    @override
    def encode_quad(self, quad: Quad, size: tuple[int, int]) -> str:
        return "[" + ", ".join(str(to_bin(v, self.bins)) for v in quad) + "]"

    @override
    def parse(self, text: str, size: tuple[int, int]) -> list[tuple[str | None, Quad]]:
        b = self.bins
        return [
            (None, (from_bin(x1, b), from_bin(y1, b), from_bin(x2, b), from_bin(y2, b)))
            for x1, y1, x2, y2 in find_quads(text)
        ]

    @property
    @override
    def box_regex(self) -> str:
        value = int_range(0, self.bins - 1)
        return r"\[" + ", ".join([value] * 4) + r"\]"

    @property
    @override
    def tolerance(self) -> float:
        return 0.5 / self.bins
