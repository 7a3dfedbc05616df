"""`POST /v1/detect`: every object (of some categories, or every known one), labelled."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from locvlm.serving.context import ServingContext
from locvlm.serving.ground import in_space
from locvlm.tasks import TASKS
from locvlm_client import CoordSpace, Detection, DetectResponse, ImageSize

__all__ = ["detect"]


async def detect(
    ctx: ServingContext,
    image: Image.Image,
    categories: Sequence[str] | None = None,
    coords: CoordSpace = "pixel",
) -> DetectResponse:
    """List the objects with the detect task's prompt; boxes in the requested space."""
    size, task = image.size, TASKS["detect"]
    args = {"categories": list(categories or ())}
    question = task.prompt(args, ctx.codec, size)
    pattern = task.constraint(args, ctx.codec, ctx.vocabulary)
    (out,) = await ctx.ask(image, [question], [pattern])
    parsed = task.read(out.text, ctx.codec, size)
    found = parsed or ()
    wanted = set(categories or ())
    detections = [
        Detection(label=o.category, box=in_space(o.box, size, coords))
        for o in found
        if not wanted or o.category in wanted
    ]
    ctx.report("detect", parsed is not None, len(detections))
    return DetectResponse(
        image_size=ImageSize(width=size[0], height=size[1]), detections=detections, raw=out.text
    )
