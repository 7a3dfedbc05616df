"""Gemini: JSON `box_2d` boxes, y first, relative to 0-1000.

Google's spatial-understanding docs ask for "bounding boxes as a JSON array with
labels" and document the box as `[y_min, x_min, y_max, x_max]` normalized to 0-1000:

    ```json
    [{"box_2d": [345, 102, 789, 512], "label": "cat"}]
    ```

is the box x 0.102-0.512, y 0.345-0.789 of the original image. Decoding divides by
1000 (as the docs' `scale_box` helper does) and swaps the axes back.

`encode` writes the list with no labels, y first: `[{"box_2d": [42, 16, 833, 469]}]`.
"""

from __future__ import annotations

from dataclasses import dataclass

from locvlm.coords._ints import IntGrid
from locvlm.coords._json import GridJsonCodec

__all__ = ["GeminiCodec"]


@dataclass(frozen=True)
class GeminiCodec(GridJsonCodec):
    """`box_2d` as `[y1, x1, y2, x2]` on a 0-1000 scale."""

    name = "gemini"
    key = "box_2d"
    ints = IntGrid(scale=1000, top=1000, yx=True)
