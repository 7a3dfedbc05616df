"""The codec contract: boxes in pixels <-> the text a model reads and writes.

Every codec maps each box to normalized corners first, so that one decoder answers in
the caller's original pixel space whatever space the model wrote in. Decoding never
raises on model text: malformed or truncated output yields the boxes that are complete.
"""

from __future__ import annotations

import logging
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from locvlm_client import Box, SizeLike, as_size

__all__ = ["Codec", "LabeledBox", "Quad"]

_log = logging.getLogger(__name__)

Quad = tuple[float, float, float, float]
"""Normalized `(x1, y1, x2, y2)` in [0, 1] relative to the original image, maybe unordered."""

# A box may stick out of the image by this fraction of a side before encode refuses it:
# float noise from conversions must not reject a box that touches the border.
_EDGE_SLACK = 1e-6


@dataclass(frozen=True)
class LabeledBox:
    """A decoded box with the label the model wrote beside it, when the format has one."""

    box: Box
    label: str | None = None


@dataclass(frozen=True)
class Codec(ABC):
    """A coordinate representation. Subclasses are frozen dataclasses of their parameters."""

    name: ClassVar[str]
    separator: ClassVar[str] = "; "
    """Text between two boxes in `encode`'s output."""

    # --- what a subclass writes ------------------------------------------------------
    @abstractmethod
    def encode_quad(self, quad: Quad, size: tuple[int, int]) -> str:
        """Text of one box given its ordered normalized corners."""

    @abstractmethod
    def parse(self, text: str, size: tuple[int, int]) -> list[tuple[str | None, Quad]]:
        """Every complete box found in `text`, as (label, normalized corners).

        May return unordered or out-of-range corners; `decode` repairs them. Must not
        raise on any string.
        """

    @property
    @abstractmethod
    def box_regex(self) -> str:
        """Regular expression of exactly one box as `encode` writes it."""

    @property
    @abstractmethod
    def tolerance(self) -> float:
        """Largest round-trip error of one coordinate, as a fraction of the image side."""

    # --- shared behaviour ------------------------------------------------------------
    @property
    def regex(self) -> str:
        """Regular expression of one or more boxes joined by the separator."""
        sep = re.escape(self.separator)
        return f"{self.box_regex}(?:{sep}{self.box_regex})*"

    @property
    def config(self) -> dict[str, Any]:
        """Name and parameters, enough to rebuild the codec with `get_codec(**config)`."""
        return {"name": self.name, **asdict(self)}

    def encode(self, boxes: Sequence[Box], image_size: SizeLike) -> str:
        """Write `boxes` (pixels of an image of `image_size`) in this representation.

        Raises:
            ValueError: on a bad image size, a non-`Box` item or a box outside the image.
        """
        size = as_size(image_size)
        return self.separator.join(self.encode_quad(_to_quad(b, size), size) for b in boxes)

    def decode(self, text: str, image_size: SizeLike) -> list[Box]:
        """Boxes in `text`, in pixels of the original image of `image_size`.

        Corners are reordered, boxes clipped to the image, boxes wholly outside it
        dropped; garbage gives an empty list.

        Raises:
            ValueError: only on a bad image size (a caller error, never model text).
        """
        return [item.box for item in self.decode_labeled(text, image_size)]

    def decode_labeled(self, text: str, image_size: SizeLike) -> list[LabeledBox]:
        """Like `decode`, keeping the label each box was written with (or None)."""
        size = as_size(image_size)
        if not isinstance(text, str):
            return []
        try:
            found = self.parse(text, size)
        except Exception:  # model text must never break a request
            _log.warning("codec %s failed to parse %r", self.name, text[:200], exc_info=True)
            return []
        out = []
        for label, quad in found:
            box = _to_box(quad, size)
            if box is not None:
                out.append(LabeledBox(box=box, label=label))
        return out


def _to_quad(box: Box, size: tuple[int, int]) -> Quad:
    if not isinstance(box, Box):
        raise ValueError(f"encode expects Box items, got {type(box).__name__}")
    width, height = size
    if (
        box.x1 < -_EDGE_SLACK * width
        or box.y1 < -_EDGE_SLACK * height
        or box.x2 > width * (1 + _EDGE_SLACK)
        or box.y2 > height * (1 + _EDGE_SLACK)
    ):
        raise ValueError(f"box {box.to_xyxy()} lies outside the {width}x{height} image")
    return (
        min(max(box.x1 / width, 0.0), 1.0),
        min(max(box.y1 / height, 0.0), 1.0),
        min(max(box.x2 / width, 0.0), 1.0),
        min(max(box.y2 / height, 0.0), 1.0),
    )


def _to_box(quad: Quad, size: tuple[int, int]) -> Box | None:
    if len(quad) != 4 or not all(math.isfinite(v) for v in quad):
        return None
    xa, ya, xb, yb = quad
    x1, x2 = (xa, xb) if xa <= xb else (xb, xa)
    y1, y2 = (ya, yb) if ya <= yb else (yb, ya)
    if x1 > 1.0 or y1 > 1.0 or x2 < 0.0 or y2 < 0.0:
        return None  # wholly outside the image: nothing there to point at
    width, height = size
    # Already validated: finite, ordered, inside; skip pydantic for decode throughput.
    return Box.model_construct(
        x1=max(x1, 0.0) * width,
        y1=max(y1, 0.0) * height,
        x2=min(x2, 1.0) * width,
        y2=min(y2, 1.0) * height,
    )
