"""`POST /v1/ground`: every instance of each phrase, in the caller's pixel space."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from locvlm.serving.context import ServingContext
from locvlm.tasks import locpred
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
    size = image.size
    codec = ctx.codec
    questions = [locpred.prompt(p) for p in phrases]
    regexes = [locpred.answer_regex(p, codec) for p in phrases]
    answers = await ctx.ask(image, questions, regexes)
    results = []
    for phrase, out in zip(phrases, answers, strict=True):
        found = locpred.parse(out.text, codec, size)
        boxes = [] if found is None else [in_space(b, size, coords) for b in found.boxes]
        ctx.report("ground", found is not None, len(boxes))
        results.append(GroundResult(phrase=phrase, found=bool(boxes), boxes=boxes, raw=out.text))
    return GroundResponse(image_size=ImageSize(width=size[0], height=size[1]), results=results)
