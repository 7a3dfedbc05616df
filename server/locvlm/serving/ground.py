"""`POST /v1/ground`: every instance of each phrase, in the caller's pixel space."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from locvlm.serving.context import ServingContext
from locvlm.tasks import TASKS
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
    size, codec, task = image.size, ctx.codec, TASKS["locpred"]
    asked = [{"phrase": p} for p in phrases]
    questions = [task.prompt(args, codec, size) for args in asked]
    regexes = [task.constraint(args, codec, ctx.vocabulary) for args in asked]
    answers = await ctx.ask(image, questions, regexes)
    results = []
    for phrase, out in zip(phrases, answers, strict=True):
        found = task.read(out.text, codec, size)
        boxes = [] if found is None else [in_space(b, size, coords) for b in found.boxes]
        ctx.report("ground", found is not None, len(boxes))
        results.append(GroundResult(phrase=phrase, found=bool(boxes), boxes=boxes, raw=out.text))
    return GroundResponse(image_size=ImageSize(width=size[0], height=size[1]), results=results)
