"""Qwen3-VL: JSON `bbox_2d` boxes relative to 0-1000 (no longer in resized pixels).

The Qwen3-VL cookbooks prompt for, and the model answers,

    ```json
    [{"bbox_2d": [102, 345, 512, 789], "label": "cat"}]
    ```

that is the box (0.102, 0.345, 0.512, 0.789) of the original image whatever size the
processor resized it to. When no JSON box is found, Qwen2-VL's tuple form
`<|box_start|>(x1,y1),(x2,y2)<|box_end|>` (or bare `(x1,y1),(x2,y2)`) is read instead,
as Qwen3-VL still writes it when not asked for JSON.

`encode` writes JSON without labels: `[{"bbox_2d": [16, 42, 469, 833]}]`, several boxes
joined by `, ` in one list.
"""

from __future__ import annotations

from dataclasses import dataclass

from locvlm.coords._json import GridJsonCodec
from locvlm.coords.base import Quad
from locvlm.coords.qwen2_vl import QWEN_GRID, find_tuple_boxes

__all__ = ["Qwen3VLCodec"]


@dataclass(frozen=True)
class Qwen3VLCodec(GridJsonCodec):
    """`bbox_2d` on a 0-1000 scale, falling back to Qwen2-VL's tuples."""

    name = "qwen3_vl"
    key = "bbox_2d"
    ints = QWEN_GRID

    def parse(self, text: str, size: tuple[int, int]) -> list[tuple[str | None, Quad]]:
        """JSON `bbox_2d` boxes, else Qwen2-VL tuple boxes."""
        return super().parse(text, size) or find_tuple_boxes(text)
