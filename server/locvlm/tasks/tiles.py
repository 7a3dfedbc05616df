"""Square crops of a non-square image, and the objects listed on them, as one listing.

The model squashes every image to its square input, so in a 1:2 image each object is
half as tall (or wide) as in a square one. Asked on three square crops of the short
side's size (at the start, middle and end of the long side), every object of the
contract (under half the short side) lies whole in one of them at its own shape:

    for crop in crops(image.size):             # () for a square image
        listings.append((crop, <the crop's listing of every object, read in its size>))
    for k, category in to_confirm(listings, whole, looks, image.size):
        crop_looks[k, category] = <the category's own answer about crop k, its boxes>
    objects = listed(listings, whole, looks, crop_looks, image.size)

`whole` and `looks` are the whole image's listing and each category's own answer about
it (`/v1/detect`'s second look). `docs/results.md`, "Detection in square tiles": on the
held-out benchmark, detection as served, images with every object right 0.840 -> 0.903
(tall 0.826 -> 0.906, wide 0.835 -> 0.901), precision 0.947 -> 0.968, recall 0.950 ->
0.976.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from locvlm.tasks.base import Obj
from locvlm_client import Box, SizeLike, as_size

__all__ = [
    "MARGIN", "SUPPORT", "Crop", "Placed", "crop_size", "crops", "listed", "moved", "placed",
    "square", "supported", "to_confirm",
]  # fmt: skip

Crop = tuple[int, int, int, int]
"""A crop's left, top, right and bottom edges in the image's pixels (PIL's order)."""

MARGIN = 0.1
"""A box this near (a share of the crop's side) to a cut through the image is dropped:
its object may be cut in two (it is whole in the next crop)."""


def square(size: SizeLike) -> bool:
    """Width and height within 15% of each other (as `locvlm eval` groups aspects)."""
    width, height = as_size(size)
    return abs(width / height - 1) < 0.15


def crops(size: SizeLike) -> tuple[Crop, ...]:
    """Three squares of the short side along the long one; none for a square image."""
    width, height = as_size(size)
    if square((width, height)):
        return ()
    short, long = min(width, height), max(width, height)
    starts = sorted({0, (long - short) // 2, long - short})
    if height > width:
        return tuple((0, s, short, s + short) for s in starts)
    return tuple((s, 0, s + short, short) for s in starts)


def crop_size(crop: Crop) -> tuple[int, int]:
    """A crop's width and height: the size its answers' boxes are read in."""
    return crop[2] - crop[0], crop[3] - crop[1]


def moved(crop: Crop, box: Box, size: SizeLike, margin: float = MARGIN) -> Box | None:
    """`box` (in `crop`'s pixels) in the image's; None when it lies at a cut of the image.

    A box within `margin` of the crop's side to a cut through the image (not the image's
    own edge) may be half an object: it is whole in the next crop.
    """
    width, height = as_size(size)
    x0, y0, x1, y1 = crop
    near = margin * (x1 - x0)
    if height > width:  # cuts across: the crop's top (unless the image's) and bottom
        start, end, first, last, side = box.y1, box.y2, y0 > 0, y1 < height, y1 - y0
    else:
        start, end, first, last, side = box.x1, box.x2, x0 > 0, x1 < width, x1 - x0
    if (first and start <= near) or (last and end >= side - near):
        return None
    return Box(x1=box.x1 + x0, y1=box.y1 + y0, x2=box.x2 + x0, y2=box.y2 + y0)


Placed = tuple[int, int, Obj]
"""A crop's listed object in the image: the crop's index, the item's index in that crop's
listing, the object in the image's pixels."""

SUPPORT = 0.3
"""A crop's object and a box of the whole image's answers of its category overlapping by
more than this are one object (as `tasks.detect.completed` matches)."""


def placed(listings: Sequence[tuple[Crop, Sequence[Obj]]], size: SizeLike) -> list[Placed]:
    """Each crop's listed objects in the image's pixels, less those at a cut (`moved`)."""
    out = []
    for k, (crop, objects) in enumerate(listings):
        for i, o in enumerate(objects):
            if (box := moved(crop, o.box, size)) is not None:
                out.append((k, i, Obj(o.category, box)))
    return out


def supported(o: Obj, whole: Sequence[Obj], looks: Mapping[str, Sequence[Box]]) -> bool:
    """The whole image's listing, or its answer about `o`'s category, has `o` too."""
    return any(w.category == o.category and w.box.iou(o.box) > SUPPORT for w in whole) or any(
        b.iou(o.box) > SUPPORT for b in looks.get(o.category, ())
    )


def to_confirm(
    listings: Sequence[tuple[Crop, Sequence[Obj]]],
    whole: Sequence[Obj],
    looks: Mapping[str, Sequence[Box]],
    size: SizeLike,
) -> list[tuple[int, str]]:
    """The (crop, category) pairs whose own answer `listed` needs, once each, in order.

    Those of the crops' objects that the whole image's answers do not support.
    """
    found = placed(listings, size)
    pairs = [(k, o.category) for k, _, o in found if not supported(o, whole, looks)]
    return list(dict.fromkeys(pairs))


def listed(
    listings: Sequence[tuple[Crop, Sequence[Obj]]],
    whole: Sequence[Obj],
    looks: Mapping[str, Sequence[Box]],
    crop_looks: Mapping[tuple[int, str], Sequence[Box]],
    size: SizeLike,
    dedup: float = 0.5,
) -> list[Placed]:
    """The crops' listings as one listing of the image: objects in the image's pixels.

    `listings`: each crop's listed objects, in its pixels; `whole` and `looks`: the whole
    image's listing and each category's own answer about it (its boxes); `crop_looks`:
    each category's own answer about a crop (its boxes, in the crop's pixels), for at
    least the pairs of `to_confirm`. A crop's object is kept when the whole image's
    answers support it (`supported`) or the crop's own answer about its category finds
    it (IoU > 0.5): a crop with few objects in it shows the model a scene unlike any it
    was trained on, and its listing can name an object that is not there. An object
    kept already (the same category, IoU > `dedup`) is not kept again.
    """
    kept: list[Placed] = []
    for k, i, o in placed(listings, size):
        own = listings[k][1][i].box  # in the crop's pixels
        if not supported(o, whole, looks) and not any(
            b.iou(own) > 0.5 for b in crop_looks.get((k, o.category), ())
        ):
            continue
        if all(p.category != o.category or p.box.iou(o.box) <= dedup for _, _, p in kept):
            kept.append((k, i, o))
    return kept
