"""`POST /v1/detect`: every object (of some categories, or every known one), labelled.

A box the model wrote without a label (a family whose format has none) is `object`.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from locvlm.serving.context import ServingContext
from locvlm.serving.ground import in_space
from locvlm_client import CoordSpace, Detection, DetectResponse, ImageSize

__all__ = ["detect"]


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
        for f in parsed or ()
        if not wanted or f.label in wanted
    ]
    ctx.report("detect", parsed is not None, len(detections))
    return DetectResponse(
        image_size=ImageSize(width=size[0], height=size[1]), detections=detections, raw=out.text
    )
