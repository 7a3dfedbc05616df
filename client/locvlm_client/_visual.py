"""Labelled boxes out to the tools people already use: supervision and PIL drawings.

`supervision` and Pillow are optional; each is imported only when asked for, with a
message that says what to install.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from locvlm_client._box import Box

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["Labelled", "draw_boxes", "to_detections"]

Labelled = Sequence[tuple[str, Box]]

_PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (128, 128, 0),
    (0, 128, 128),
    (170, 110, 40),
]


def to_detections(
    boxes: Labelled,
    classes: Sequence[str] | None = None,
    confidence: Sequence[float] | None = None,
) -> Any:
    """A `supervision.Detections` of `boxes` (xyxy pixels) with `class_name` data.

    `class_id` indexes `classes` when given (labels not in it raise `ValueError`), else
    the labels in order of first appearance; `confidence`, one per box, when given.

    Raises:
        ImportError: supervision is not installed.
    """
    try:
        import numpy as np
        import supervision as sv
    except ImportError as exc:
        raise ImportError(
            "to_supervision() needs the supervision package: "
            "pip install 'locvlm-client[supervision]'"
        ) from exc
    names = list(classes) if classes is not None else list(dict.fromkeys(lb for lb, _ in boxes))
    index = {name: i for i, name in enumerate(names)}
    if missing := sorted({lb for lb, _ in boxes} - set(index)):
        raise ValueError(f"labels {missing} are not in classes")
    if not boxes:
        return sv.Detections.empty()
    xyxy = np.array([box.to_xyxy() for _, box in boxes], dtype=np.float32)
    return sv.Detections(
        xyxy=xyxy,
        class_id=np.array([index[lb] for lb, _ in boxes], dtype=int),
        confidence=None if confidence is None else np.array(confidence, dtype=np.float32),
        data={"class_name": np.array([lb for lb, _ in boxes])},
    )


def draw_boxes(image: PILImage.Image, boxes: Labelled, width: int = 0) -> PILImage.Image:
    """A copy of `image` with each box outlined and labelled; colours follow labels."""
    from PIL import ImageDraw

    out = image.convert("RGB").copy()
    pen = ImageDraw.Draw(out)
    width = width or max(1, round(min(out.size) / 200))
    colours: dict[str, tuple[int, int, int]] = {}
    for label, box in boxes:
        colour = colours.setdefault(label, _PALETTE[len(colours) % len(_PALETTE)])
        pen.rectangle(box.to_xyxy(), outline=colour, width=width)
        left, top, right, bottom = pen.textbbox((0, 0), label)
        y = box.y1 - (bottom - top) - 2 if box.y1 >= (bottom - top) + 2 else box.y2 + 1
        pen.rectangle((box.x1, y, box.x1 + right - left + 2, y + bottom - top + 2), fill=colour)
        pen.text((box.x1 + 1, y), label, fill=(255, 255, 255))
    return out
