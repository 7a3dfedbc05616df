"""`POST /v1/ground`: every instance of each phrase, in the caller's pixel space."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from locvlm.serving.context import ServingContext
from locvlm_client import Box, CoordSpace, GroundResponse, GroundResult, ImageSize

__all__ = ["ground", "in_space"]


def in_space(box: Box, size: tuple[int, int], coords: CoordSpace) -> Box:
    """`box` (pixels of an image of `size`) in the requested space."""
    if coords == "pixel":
        return box
    return Box.from_xyxy(box.to_normalized(size))


async def ground(
    ctx: ServingContext, image: Image.Image, phrases: Sequence[str], coords: CoordSpace = "pixel"
) -> GroundResponse:
    """Ground each phrase; boxes clipped to the image, reading order, every instance."""
    size, adapter = image.size, ctx.adapter
    adapter.require("ground")
    asked = [adapter.ground(p, size) for p in phrases]
    answers = await ctx.ask(image, [q.text for q in asked], [q.regex for q in asked])
    results = []
    for phrase, out in zip(phrases, answers, strict=True):
        found = adapter.read_ground(out.text, phrase, size)
        boxes = [] if found is None else [in_space(b, size, coords) for b in found]
        ctx.report("ground", found is not None, len(boxes))
        results.append(GroundResult(phrase=phrase, found=bool(boxes), boxes=boxes, raw=out.text))
    return GroundResponse(image_size=ImageSize(width=size[0], height=size[1]), results=results)
