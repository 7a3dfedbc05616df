"""Qwen2.5-VL: JSON boxes in absolute pixels of the model's RESIZED input image.

The model answers `[{"bbox_2d": [x1, y1, x2, y2], "label": "cat"}]`, usually in a
```json fence, in pixels of the image its processor fed it: the original resized by
`smart_resize` so that both sides are multiples of 28 (patch 14 x merge 2) and the area
lies within [min_pixels, max_pixels]. A 1280 x 960 photo is seen as 1148 x 840, so
`{"bbox_2d": [287, 210, 861, 630]}` is the box (320, 240, 960, 720) of the original.
Decoding maps the resized pixels back to the original; the numbers are divided by the
resized width and height.

`input_size` (width, height) names the resized input when it is known (a server that
resized itself, or other processor settings); when None it is computed from the
original image size with the processor defaults below.

`encode` writes integers in the resized space and no label:
`[{"bbox_2d": [287, 210, 861, 630]}]`, several boxes joined by `, ` in one list.

Tolerance: half a resized pixel, relative to the resized side. Both resized sides are
at least `factor` pixels, so `0.5 / factor` (1.8 % of the side with the defaults) bounds
every image; with a fixed `input_size` it is `0.5 / min(input_size)`. For a typical
photo the real error is far smaller (1148 px wide: 0.04 % of the width).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from locvlm.coords._json import JsonCodec, Values
from locvlm.coords._regex import int_range
from locvlm.coords.base import Quad
from locvlm_client import as_size

__all__ = ["Qwen25VLCodec", "smart_resize"]

# Defaults of transformers' Qwen2VLImageProcessor, which Qwen2.5-VL uses as well.
FACTOR = 28  # patch_size 14 x merge_size 2
MIN_PIXELS = 56 * 56
MAX_PIXELS = 28 * 28 * 1280


def smart_resize(
    height: int,
    width: int,
    factor: int = FACTOR,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = MAX_PIXELS,
) -> tuple[int, int]:
    """(height, width) of the resized input, as transformers' `smart_resize` computes it.

    Both sides become multiples of `factor` near the original aspect ratio, the area
    within [min_pixels, max_pixels]. Where transformers refuses an image (a side below
    `factor` or an aspect ratio above 200) this keeps going with qwen-vl-utils' guard:
    no side below `factor`.
    """
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = max(factor, math.ceil(height * beta / factor) * factor)
        w_bar = max(factor, math.ceil(width * beta / factor) * factor)
    return h_bar, w_bar


@dataclass(frozen=True)
class Qwen25VLCodec(JsonCodec):
    """`bbox_2d` in pixels of the resized input (`input_size`, or smart_resize's)."""

    name = "qwen2_5_vl"
    key = "bbox_2d"
    input_size: tuple[int, int] | None = None  # (width, height) the model saw
    factor: int = FACTOR  # sides are multiples of this (patch x merge)
    min_pixels: int = MIN_PIXELS  # the processor's `min_pixels`
    max_pixels: int = MAX_PIXELS  # the processor's `max_pixels`

    def __post_init__(self) -> None:
        if self.input_size is not None:
            object.__setattr__(self, "input_size", as_size(self.input_size))
        if not 1 <= self.factor <= 1024 or not 1 <= self.min_pixels <= self.max_pixels:
            raise ValueError(
                "qwen2_5_vl needs 1 <= factor <= 1024 and 1 <= min_pixels <= max_pixels, "
                f"got {self.factor}, {self.min_pixels}, {self.max_pixels}"
            )

    def resized(self, size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the model input for an original image of `size`."""
        if self.input_size is not None:
            return self.input_size
        width, height = size
        h, w = smart_resize(height, width, self.factor, self.min_pixels, self.max_pixels)
        return w, h

    def to_values(self, quad: Quad, size: tuple[int, int]) -> tuple[str, str, str, str]:
        """Rounded pixels of the resized input."""
        width, height = self.resized(size)
        x1, y1, x2, y2 = quad
        return (
            str(round(x1 * width)),
            str(round(y1 * height)),
            str(round(x2 * width)),
            str(round(y2 * height)),
        )

    def to_quad(self, values: Values, size: tuple[int, int]) -> Quad:
        """Resized-input pixels divided by the resized size."""
        width, height = self.resized(size)
        x1, y1, x2, y2 = values
        return x1 / width, y1 / height, x2 / width, y2 / height

    @property
    def value_regexes(self) -> tuple[str, str]:
        """Integers up to the resized width and height (5 digits when unknown)."""
        if self.input_size is None:  # the resized size depends on the image
            return int_range(0, 99_999), int_range(0, 99_999)
        width, height = self.input_size
        return int_range(0, width), int_range(0, height)

    @property
    def tolerance(self) -> float:
        """Half a resized pixel over the smallest possible resized side."""
        if self.input_size is not None:
            return 0.5 / min(self.input_size)
        return 0.5 / self.factor
