"""`POST /v1/describe`: what each region is, and (in context) how it relates to the scene."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from locvlm.serving.context import ServingContext
from locvlm.tasks import region
from locvlm_client import Box, DescribeResponse, ImageSize, RegionResult

__all__ = ["describe"]


async def describe(
    ctx: ServingContext, image: Image.Image, regions: Sequence[Box], context: bool = True
) -> DescribeResponse:
    """Describe every region (pixels of `image`, clipped to it)."""
    size = image.size
    clipped = [r.clip(size) for r in regions]
    questions = [region.prompt(r, ctx.codec, size, context=context) for r in clipped]
    pattern = region.answer_regex(ctx.vocabulary, context) if ctx.vocabulary else None
    answers = await ctx.ask(image, questions, [pattern] * len(questions))
    results = []
    for box, out in zip(clipped, answers, strict=True):
        said = region.parse(out.text)
        ctx.report("describe", said is not None)
        label = None if said is None else said.category
        text = (
            out.text.strip()
            if said is None
            else region.answer(said.category, said.relation, said.other)
        )
        results.append(RegionResult(region=box, label=label, description=text, raw=out.text))
    return DescribeResponse(image_size=ImageSize(width=size[0], height=size[1]), results=results)
