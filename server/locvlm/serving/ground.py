"""`POST /v1/ground`: every instance of each phrase, in the caller's pixel space."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from locvlm.serving.context import ServingContext
from locvlm.serving.detect import detected
from locvlm.serving.space import in_space
from locvlm_client import Box, CoordSpace, GroundResponse, GroundResult, ImageSize

__all__ = ["ground"]


async def _second_look(
    ctx: ServingContext,
    image: Image.Image,
    names: dict[str, str],
    found: dict[str, list[Box] | None],
    texts: dict[str, str],
) -> None:
    """Ask again about each phrase its listing named none of; keep what that adds.

    `names` maps each asked phrase to its category; `found` and `texts` (the boxes and
    the answer text of each phrase) are updated where the second look adds boxes.
    """
    again = {
        p: q
        for p in found
        if found[p] == [] and (q := ctx.adapter.second_look(names[p], image.size))
    }
    if not again:
        return
    looked = await ctx.ask(
        image, [q.text for q in again.values()], [q.regex for q in again.values()]
    )
    listings = {t: ctx.adapter.read_listing(t, image.size) for t in {texts[p] for p in again}}
    for p, out in zip(again, looked, strict=True):
        listed = listings[texts[p]] or []
        if boxes := ctx.adapter.read_second_look(out.text, listed, image.size):
            found[p], texts[p] = boxes, out.text


async def ground(
    ctx: ServingContext, image: Image.Image, phrases: Sequence[str], coords: CoordSpace = "pixel"
) -> GroundResponse:
    """Ground each phrase; boxes clipped to the image, reading order, every instance.

    A phrase outside the model's vocabulary is not asked: it comes back not found, with
    a warning (the model would point at whatever object it knows best). Phrases whose
    questions are the same (a checkpoint that grounds from its listing of every object)
    share one answer; a phrase that listing names none of is asked about again on its
    own, and boxes of that answer where nothing is listed are kept (`second_look`: a
    listing misses objects). A checkpoint whose own answers ground better is asked each
    phrase and the listing in one call, and its answers are checked against the listing
    (`grounding_check`: mix-ups dropped, missed instances added). One that grounds a
    non-square image in tiles (`Adapter.ground_crops`) reads each phrase's boxes from
    `/v1/detect`'s answer in tiles (`detect.detected`: the listings of the whole image
    and of its square crops, and each category's second look), asked once for all.
    """
    size, adapter = image.size, ctx.adapter
    adapter.require("ground")
    known = {p: adapter.known(p) for p in phrases}
    asked = [p for p in dict.fromkeys(phrases) if known[p] is not None]
    if asked and (crops := adapter.ground_crops(size)):
        scene = await detected(ctx, image, crops=crops)  # every category, in tiles
        tiled: dict[str, list[Box] | None] = {
            p: [b for label, b, _ in scene.objects if label == known[p]] for p in asked
        }
        return _response(ctx, phrases, tiled, {p: scene.raw for p in asked}, size, coords)
    questions = {p: adapter.ground(known[p] or p, size) for p in asked}
    unique = list(dict.fromkeys(questions.values()))  # a listing is asked once for all
    check = adapter.grounding_check(size) if asked else None
    both = [*unique, *([check] if check else [])]  # the check in the same call
    answers = await ctx.ask(image, [q.text for q in both], [q.regex for q in both])
    said = dict(zip(both, (out.text for out in answers), strict=True))
    texts = {p: said[q] for p, q in questions.items()}
    listed = None if check is None else adapter.read_listing(said[check], size)
    found = {
        p: adapter.read_ground(t, known[p] or p, size)
        if listed is None
        else adapter.read_checked(t, listed, known[p] or p, size)
        for p, t in texts.items()
    }
    await _second_look(ctx, image, {p: known[p] or p for p in texts}, found, texts)
    return _response(ctx, phrases, found, texts, size, coords)


def _response(
    ctx: ServingContext,
    phrases: Sequence[str],
    found: dict[str, list[Box] | None],
    texts: dict[str, str],
    size: tuple[int, int],
    coords: CoordSpace,
) -> GroundResponse:
    """Each phrase's result, in the order asked; phrases not asked are unknown."""
    adapter = ctx.adapter
    results = []
    for phrase in phrases:
        if phrase not in texts:
            warning = adapter.unknown_warning(phrase)
            results.append(GroundResult(phrase=phrase, found=False, warning=warning))
            continue
        said_boxes = found[phrase]
        boxes = [] if said_boxes is None else [in_space(b, size, coords) for b in said_boxes]
        ctx.report("ground", said_boxes is not None, len(boxes))
        results.append(
            GroundResult(phrase=phrase, found=bool(boxes), boxes=boxes, raw=texts[phrase])
        )
    return GroundResponse(image_size=ImageSize(width=size[0], height=size[1]), results=results)
