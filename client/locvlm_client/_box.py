"""Axis-aligned boxes in pixel space: the one geometry type server and SDK share."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Box", "ImageSize", "SizeLike", "as_size"]


class ImageSize(BaseModel):
    """Width and height of an image in pixels."""

    model_config = ConfigDict(frozen=True)

    width: int = Field(gt=0, description="Image width in pixels.")
    height: int = Field(gt=0, description="Image height in pixels.")


SizeLike = ImageSize | tuple[int, int] | Sequence[int]
"""An image size: an `ImageSize` or a `(width, height)` pair."""


def as_size(size: SizeLike) -> tuple[int, int]:
    """Return `(width, height)` from any accepted size form.

    Raises:
        ValueError: when the size is not two positive integers.
    """
    if isinstance(size, ImageSize):
        return size.width, size.height
    if len(size) != 2:
        raise ValueError(f"image size must be (width, height), got {size!r}")
    width, height = int(size[0]), int(size[1])
    if width <= 0 or height <= 0 or width != size[0] or height != size[1]:
        raise ValueError(f"image size must be two positive integers, got {tuple(size)!r}")
    return width, height


class Box(BaseModel):
    """An axis-aligned box in pixels: origin top-left, x to the right, y down.

    Corners are ordered (`x1 <= x2`, `y1 <= y2`) and finite; a zero-width or
    zero-height box is allowed (a point or a line).
    """

    model_config = ConfigDict(frozen=True)

    x1: float = Field(description="Left edge, pixels from the image's left side.")
    y1: float = Field(description="Top edge, pixels from the image's top side.")
    x2: float = Field(description="Right edge (>= x1).")
    y2: float = Field(description="Bottom edge (>= y1).")

    @model_validator(mode="after")
    def _check(self) -> Box:
        for name in ("x1", "y1", "x2", "y2"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"box coordinate {name} must be finite, got {getattr(self, name)}")
        if self.x2 < self.x1:
            raise ValueError(f"box has x2 < x1 ({self.x2} < {self.x1}); corners must be ordered")
        if self.y2 < self.y1:
            raise ValueError(f"box has y2 < y1 ({self.y2} < {self.y1}); corners must be ordered")
        return self

    # --- constructors -------------------------------------------------------------
    @classmethod
    def from_xyxy(cls, xyxy: Sequence[float]) -> Box:
        """Build from `(x1, y1, x2, y2)` pixels."""
        x1, y1, x2, y2 = xyxy
        return cls(x1=x1, y1=y1, x2=x2, y2=y2)

    @classmethod
    def from_corners(cls, xa: float, ya: float, xb: float, yb: float) -> Box:
        """Build from two opposite corners in any order (swapped corners are reordered)."""
        return cls(x1=min(xa, xb), y1=min(ya, yb), x2=max(xa, xb), y2=max(ya, yb))

    @classmethod
    def from_xywh(cls, xywh: Sequence[float]) -> Box:
        """Build from `(x, y, width, height)` with `(x, y)` the top-left corner."""
        x, y, w, h = xywh
        return cls(x1=x, y1=y, x2=x + w, y2=y + h)

    @classmethod
    def from_cxcywh(cls, cxcywh: Sequence[float]) -> Box:
        """Build from `(centre x, centre y, width, height)`."""
        cx, cy, w, h = cxcywh
        return cls(x1=cx - w / 2, y1=cy - h / 2, x2=cx + w / 2, y2=cy + h / 2)

    @classmethod
    def from_normalized(cls, xyxy: Sequence[float], size: SizeLike) -> Box:
        """Build from `(x1, y1, x2, y2)` in [0, 1] relative to an image of `size`."""
        width, height = as_size(size)
        x1, y1, x2, y2 = xyxy
        return cls(x1=x1 * width, y1=y1 * height, x2=x2 * width, y2=y2 * height)

    # --- views ----------------------------------------------------------------------
    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        """Box centre `(cx, cy)` in pixels."""
        return (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2

    def to_xyxy(self) -> tuple[float, float, float, float]:
        """Return `(x1, y1, x2, y2)`."""
        return self.x1, self.y1, self.x2, self.y2

    def to_xywh(self) -> tuple[float, float, float, float]:
        """Return `(x, y, width, height)` with `(x, y)` the top-left corner."""
        return self.x1, self.y1, self.width, self.height

    def to_cxcywh(self) -> tuple[float, float, float, float]:
        """Return `(centre x, centre y, width, height)`."""
        cx, cy = self.center
        return cx, cy, self.width, self.height

    def to_normalized(self, size: SizeLike) -> tuple[float, float, float, float]:
        """Return `(x1, y1, x2, y2)` divided by the image's width and height."""
        width, height = as_size(size)
        return self.x1 / width, self.y1 / height, self.x2 / width, self.y2 / height

    # --- geometry -------------------------------------------------------------------
    def clip(self, size: SizeLike) -> Box:
        """Return the box clipped to an image of `size` (may become zero-area)."""
        width, height = as_size(size)
        x1 = min(max(self.x1, 0.0), width)
        y1 = min(max(self.y1, 0.0), height)
        x2 = min(max(self.x2, 0.0), width)
        y2 = min(max(self.y2, 0.0), height)
        if (x1, y1, x2, y2) == self.to_xyxy():
            return self
        return Box(x1=x1, y1=y1, x2=x2, y2=y2)

    def intersection(self, other: Box) -> float:
        """Area shared with `other`, in square pixels."""
        w = min(self.x2, other.x2) - max(self.x1, other.x1)
        h = min(self.y2, other.y2) - max(self.y1, other.y1)
        return w * h if w > 0 and h > 0 else 0.0

    def iou(self, other: Box) -> float:
        """Intersection over union with `other`; 0.0 when both boxes have zero area."""
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def scale(self, sx: float, sy: float) -> Box:
        """Return the box with x multiplied by `sx` and y by `sy` (both > 0)."""
        if sx <= 0 or sy <= 0:
            raise ValueError(f"scale factors must be positive, got {sx}, {sy}")
        return Box(x1=self.x1 * sx, y1=self.y1 * sy, x2=self.x2 * sx, y2=self.y2 * sy)
