"""`POST /v1/describe`: what each region is, and (in context) how it relates to the scene."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from locvlm.serving.context import ServingContext
from locvlm.serving.ground import in_space
from locvlm_client import Box, CoordSpace, DescribeResponse, ImageSize, RegionResult

__all__ = ["describe"]


async def describe(
    ctx: ServingContext,
    image: Image.Image,
    regions: Sequence[Box],
    context: bool = True,
    coords: CoordSpace = "pixel",
) -> DescribeResponse:
    """Describe every region (in `coords` of `image`, clipped to it)."""
    size, adapter = image.size, ctx.adapter
    adapter.require("describe")
    if coords == "normalized":
        regions = [Box.from_normalized(r.to_xyxy(), size) for r in regions]
    regions = [r.clip(size) for r in regions]
    asked = [adapter.describe(r, size, context) for r in regions]
    answers = await ctx.ask(image, [q.text for q in asked], [q.regex for q in asked])
    results = []
    for box, out in zip(regions, answers, strict=True):
        said = adapter.read_describe(out.text, size)
        ctx.report("describe", said.parsed)
        results.append(
            RegionResult(
                region=in_space(box, size, coords),
                label=said.label,
                description=said.text,
                raw=out.text,
            )
        )
    return DescribeResponse(image_size=ImageSize(width=size[0], height=size[1]), results=results)
