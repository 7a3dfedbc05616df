"""Integer coordinates on a fixed scale, in x-first or y-first order: the peer families' grid.

Most peer families write a box as four integers: the coordinate times a scale (Qwen's
0-1000, MiniGPT-v2's 0-100), or the index of a cell (Florence-2's 1000 bins). `IntGrid`
holds one family's convention, so each codec states it in one line and shares the
arithmetic, the zero padding, the axis order and the honest round-trip tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from locvlm.coords._bins import from_bin, to_bin
from locvlm.coords._regex import int_range
from locvlm.coords.base import Codec, Quad

__all__ = ["GridCodec", "IntGrid", "padded_int_range"]


def padded_int_range(high: int, digits: int) -> str:
    """A regex of the integers `0..high`, left-padded with zeros to `digits` digits."""
    parts = []
    for length in range(1, digits + 1):
        low = 0 if length == 1 else 10 ** (length - 1)
        top = min(high, 10**length - 1)
        if low <= top:
            parts.append("0" * (digits - length) + int_range(low, top))
    return "(?:" + "|".join(parts) + ")"


@dataclass(frozen=True)
class IntGrid:
    """How a family writes one normalized coordinate as an integer.

    Attributes:
        scale: the integer of the far image edge (a coordinate is `value * scale`).
        top: the largest integer the family writes (`scale` or `scale - 1`).
        cells: True for bins (floor to encode, cell centre to decode, `top = scale - 1`);
            False for scaled values (round to encode, `k / scale` to decode).
        yx: True when the family writes y before x (`y1 x1 y2 x2`).
        digits: zero-padded width of each integer (0: no padding).
    """

    scale: int
    top: int
    cells: bool = False
    yx: bool = False
    digits: int = 0

    def write(self, quad: Quad) -> tuple[str, str, str, str]:
        """The four integers of ordered corners `quad`, as text, in the family's order."""
        a, b, c, d = (f"{self._to_int(v):0{self.digits}d}" for v in self._order(quad))
        return a, b, c, d

    def read(self, values: Sequence[str | float]) -> Quad:
        """Normalized `(x1, y1, x2, y2)` from four integers in the family's order."""
        a, b, c, d = (self._from_int(float(v)) for v in values)
        return self._order((a, b, c, d))

    @property
    def value_regex(self) -> str:
        """A regex of one integer as `write` writes it."""
        if self.digits:
            return padded_int_range(self.top, self.digits)
        return int_range(0, self.top)

    @property
    def tolerance(self) -> float:
        """Largest round-trip error: half a step, or the clamp at the far edge if larger."""
        if self.cells:
            return 0.5 / self.scale
        return max(0.5, self.scale - self.top) / self.scale

    def _order(self, quad: Quad) -> Quad:
        a, b, c, d = quad
        return (b, a, d, c) if self.yx else (a, b, c, d)

    def _to_int(self, value: float) -> int:
        if self.cells:
            return to_bin(value, self.scale)
        return min(max(round(value * self.scale), 0), self.top)

    def _from_int(self, k: float) -> float:
        if self.cells:
            return from_bin(k, self.scale)
        return k / self.scale


@dataclass(frozen=True)
class GridCodec(Codec):
    """A family whose four numbers are integers on one `IntGrid` (class variable `ints`)."""

    ints: ClassVar[IntGrid]

    @property
    def tolerance(self) -> float:
        return self.ints.tolerance
