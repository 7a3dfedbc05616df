"""`POST /v1/describe`: what each region is, and (in context) how it relates to the scene."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from locvlm.adapters import Described
from locvlm.serving.context import ServingContext
from locvlm.serving.space import in_space
from locvlm.tasks import region
from locvlm_client import Box, CoordSpace, DescribeResponse, ImageSize, RegionResult

__all__ = ["describe"]


async def describe(
    ctx: ServingContext,
    image: Image.Image,
    regions: Sequence[Box],
    context: bool = True,
    coords: CoordSpace = "pixel",
) -> DescribeResponse:
    """Describe every region (in `coords` of `image`, clipped to it).

    For a checkpoint read from its listing of every object (`Sidecar.listing`), the
    listing is asked once with the regions: each region's category is the listed
    object's at the region (the model's own answer where none is listed there,
    `region.named_in_listing`) and, in context, its relation the clearest one to another
    listed object (`region.in_scene`). A listing that cannot be read leaves the model's
    own descriptions.
    """
    size, adapter = image.size, ctx.adapter
    adapter.require("describe")
    if coords == "normalized":
        regions = [Box.from_normalized(r.to_xyxy(), size) for r in regions]
    regions = [r.clip(size) for r in regions]
    asked = [adapter.describe(r, size, context) for r in regions]
    if adapter.reads_listing:  # the categories (and relations) come from the listing
        asked.append(adapter.detect([], size))
    answers = await ctx.ask(image, [q.text for q in asked], [q.regex for q in asked])
    listed = None
    if len(answers) > len(regions):
        listed = adapter.read_listing(answers.pop().text, size)
    results = []
    for box, out in zip(regions, answers, strict=True):
        said = adapter.read_describe(out.text, size)
        ctx.report("describe", said.parsed)
        if listed is not None and said.label is not None:
            said = Described(*region.in_scene(said.label, box, listed, context))
        results.append(
            RegionResult(
                region=in_space(box, size, coords),
                label=said.label,
                description=said.text,
                raw=out.text,
            )
        )
    return DescribeResponse(image_size=ImageSize(width=size[0], height=size[1]), results=results)
