"""Integer binning shared by the binned codecs (IVB, DIGA and the peer families)."""

from __future__ import annotations

__all__ = ["from_bin", "to_bin"]


def to_bin(value: float, bins: int) -> int:
    """Index of the cell (of `bins` equal cells over [0, 1]) that holds `value`."""
    # The epsilon keeps exact edges (0.58 * 100 = 57.999...) in their own cell.
    return min(max(int(value * bins + 1e-9), 0), bins - 1)


def from_bin(index: float, bins: int) -> float:
    """Centre of cell `index`, normalized; half a cell is the largest error."""
    return (index + 0.5) / bins
