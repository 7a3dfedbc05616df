"""`POST /v1/detect`: every object (of some categories, or every known one), labelled.

A box the model wrote without a label (a family whose format has none) is `object`.
An object listed twice (the same label, boxes overlapping at IoU >= `SAME_OBJECT_IOU`)
is returned once, at its first mention: models repeat items of long listings.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from locvlm.adapters import Found
from locvlm.serving.context import ServingContext
from locvlm.serving.ground import in_space
from locvlm_client import CoordSpace, Detection, DetectResponse, ImageSize

__all__ = ["SAME_OBJECT_IOU", "detect", "distinct"]

SAME_OBJECT_IOU = 0.7
"""Two boxes of one label overlapping this much are one object listed twice."""


def distinct(found: Sequence[Found]) -> list[Found]:
    """`found` without repeats, in order.

    A later box of a label that overlaps an earlier one of the same label at IoU >=
    `SAME_OBJECT_IOU` is dropped.
    """
    kept: list[Found] = []
    for item in found:
        if not any(k.label == item.label and k.box.iou(item.box) >= SAME_OBJECT_IOU for k in kept):
            kept.append(item)
    return kept


async def detect(
    ctx: ServingContext,
    image: Image.Image,
    categories: Sequence[str] | None = None,
    coords: CoordSpace = "pixel",
) -> DetectResponse:
    """List the objects with the family's detect prompt; boxes in the requested space."""
    size, adapter = image.size, ctx.adapter
    adapter.require("detect")
    question = adapter.detect(list(categories or ()), size)
    (out,) = await ctx.ask(image, [question.text], [question.regex])
    parsed = adapter.read_detect(out.text, size)
    wanted = set(categories or ())
    detections = [
        Detection(label=f.label or "object", box=in_space(f.box, size, coords))
        for f in distinct(parsed or ())
        if not wanted or f.label in wanted
    ]
    ctx.report("detect", parsed is not None, len(detections))
    return DetectResponse(
        image_size=ImageSize(width=size[0], height=size[1]), detections=detections, raw=out.text
    )
