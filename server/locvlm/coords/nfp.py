"""NFP: normalized floating point, the paper's first representation.

`[0.1234, 0.5000, 0.3300, 0.8125]` — x1, y1, x2, y2 divided by the image's width and
height, written with a fixed number of decimals; several boxes joined by `; `.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing_extensions import override

from locvlm.coords._text import find_quads
from locvlm.coords.base import Codec, Quad

__all__ = ["NFPCodec"]


@dataclass(frozen=True)
class NFPCodec(Codec):
    """Normalized floats with `decimals` decimals."""

    name = "nfp"
    decimals: int = 4  # the paper's choice; 4 digits resolve 0.1 px on a 1000 px side

    def __post_init__(self) -> None:
        if not 1 <= self.decimals <= 8:
            raise ValueError(f"nfp decimals must be 1..8, got {self.decimals}")

    @override
    def encode_quad(self, quad: Quad, size: tuple[int, int]) -> str:
        d = self.decimals
        return "[" + ", ".join(f"{v:.{d}f}" for v in quad) + "]"

    @override
    def parse(self, text: str, size: tuple[int, int]) -> list[tuple[str | None, Quad]]:
        return [(None, quad) for quad in find_quads(text)]

    @property
    @override
    def box_regex(self) -> str:
        d = self.decimals
        value = rf"(?:0\.\d{{{d}}}|1\.0{{{d}}})"
        return r"\[" + ", ".join([value] * 4) + r"\]"

    @property
    @override
    def tolerance(self) -> float:
        return 0.5 * 10.0**-self.decimals
