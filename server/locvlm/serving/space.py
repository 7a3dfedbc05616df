"""A box in the coordinate space the caller asked for: pixels, or normalized to [0, 1]."""

from __future__ import annotations

from locvlm_client import Box, CoordSpace

__all__ = ["in_space"]


def in_space(box: Box, size: tuple[int, int], coords: CoordSpace) -> Box:
    """`box` (pixels of an image of `size`) in the requested space."""
    if coords == "pixel":
        return box
    return Box.from_xyxy(box.to_normalized(size))
