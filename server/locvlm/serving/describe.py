"""`POST /v1/describe`: what each region is, and (in context) how it relates to the scene."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from locvlm.serving.context import ServingContext
from locvlm.tasks import TASKS, region
from locvlm_client import Box, DescribeResponse, ImageSize, RegionResult

__all__ = ["describe"]


async def describe(
    ctx: ServingContext, image: Image.Image, regions: Sequence[Box], context: bool = True
) -> DescribeResponse:
    """Describe every region (pixels of `image`, clipped to it)."""
    size = image.size
    task = TASKS["region" if context else "region_plain"]
    asked = [{"box": r.clip(size)} for r in regions]
    questions = [task.prompt(args, ctx.codec, size) for args in asked]
    patterns = [task.constraint(args, ctx.codec, ctx.vocabulary) for args in asked]
    answers = await ctx.ask(image, questions, patterns)
    results = []
    for args, out in zip(asked, answers, strict=True):
        box = args["box"]
        said = task.read(out.text, ctx.codec, size)
        ctx.report("describe", said is not None)
        label = None if said is None else said.category
        text = (
            out.text.strip()
            if said is None
            else region.answer(said.category, said.relation, said.other)
        )
        results.append(RegionResult(region=box, label=label, description=text, raw=out.text))
    return DescribeResponse(image_size=ImageSize(width=size[0], height=size[1]), results=results)
