"""Left/right (the LocVLM paper's protocol) and above/below benchmarks, with flips.

Pairs of objects whose categories appear exactly once in the image and whose boxes do
not overlap on the axis are asked about twice, as a yes/no question ("Is the cup left
of the laptop?") and as a side question ("Which side of the laptop is the cup?"), each
on the image and on its mirror image (`hflip`, or `vflip` for above/below), where boxes
are mirrored (x -> w - x) and the answer swaps. The original and the mirrored question
share a `group`: flip consistency is both answered right. Each yes/no group holds one
"yes" and one "no", so the answers are balanced. An image that shows an object which is
not its own top-to-bottom mirror (`BenchOptions.upright`: the shapes world's apex-up
triangle) is asked above/below as shown only, without a group: flipped, it would show
an object outside the dataset's world.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from locvlm.coords.relations import Axis, Relation
from locvlm.data._bench import BenchImage, BenchSource, Kind, facts_on_axis, per_image, row
from locvlm.data._rows import Row, box_list
from locvlm.tasks import Obj
from locvlm.tasks._text import yes_or_no
from locvlm.tasks.spatial import SIDE_WORDS
from locvlm_client import Box

__all__ = ["SPATIAL_KINDS", "mirror", "spatial_rows"]

_KIND = {Axis.HORIZONTAL: "leftright", Axis.VERTICAL: "abovebelow"}
_RELATIONS = {axis: tuple(rel for rel in Relation if rel.axis is axis) for axis in Axis}


def mirror(box: Box, size: tuple[int, int], axis: Axis) -> Box:
    """`box` in the image flipped along `axis` (x -> w - x for a horizontal flip)."""
    width, height = size
    if axis is Axis.HORIZONTAL:
        return Box(x1=width - box.x2, y1=box.y1, x2=width - box.x1, y2=box.y2)
    return Box(x1=box.x1, y1=height - box.y2, x2=box.x2, y2=height - box.y1)


def _evidence(*objects: Obj) -> list[dict[str, object]]:
    return [{"category": obj.category, "box": box_list(obj.box)} for obj in objects]


def _views(
    image: BenchImage, pair: tuple[Obj, Obj], axis: Axis, flips: bool
) -> Iterator[tuple[bool, Obj, Obj]]:
    """The pair as shown, then (with `flips`) mirrored: `(flipped, subject, reference)`."""
    subject, reference = pair
    yield False, subject, reference
    if not flips:
        return
    size = image.scene.size
    mirrored = [Obj(o.category, mirror(o.box, size, axis)) for o in (subject, reference)]
    yield True, mirrored[0], mirrored[1]


def _pair_rows(
    image: BenchImage,
    pair: tuple[Obj, Obj],
    holds: Relation,
    asked: Relation,
    group: str | None,
) -> Iterator[Row]:
    """The yes/no and side questions about `pair`, where `holds`, on both views.

    With `group` None, on the image as shown only (its flip would leave the world).
    """
    axis = asked.axis
    names = {"subject": pair[0].category, "reference": pair[1].category}
    for flipped, subject, reference in _views(image, pair, axis, group is not None):
        shown = holds.mirrored(axis) if flipped else holds
        horizontal = axis is Axis.HORIZONTAL
        hflip, vflip = (flipped, None) if horizontal else (False, flipped)
        evidence = _evidence(subject, reference)
        yield row(
            image.media, "spatial_yes_no", {**names, "relation": asked.value},
            {"answer": yes_or_no(shown is asked), "evidence": evidence},
            group=None if group is None else f"{group}/yes_no", hflip=hflip, vflip=vflip,
        )  # fmt: skip
        yield row(
            image.media, "spatial_side", {**names, "axis": axis.value},
            {"answer": SIDE_WORDS[shown], "evidence": evidence},
            group=None if group is None else f"{group}/side", hflip=hflip, vflip=vflip,
        )  # fmt: skip


def spatial_rows(axis: Axis) -> Kind[BenchImage]:
    """The kind that asks about relations on `axis`, with mirrored copies."""

    def rows(source: BenchSource, image: BenchImage, rng: random.Random) -> Iterator[Row]:
        facts = facts_on_axis(image.singles, axis, rng)
        flips = axis is Axis.HORIZONTAL or not image.present & source.upright
        for index, (a, b, holds) in enumerate(source.pick(rng, facts)):
            asked = rng.choice(_RELATIONS[axis])
            group = f"{_KIND[axis]}/{image.key}/{index}" if flips else None
            yield from _pair_rows(image, (a, b), holds, asked, group)

    return per_image(rows)


SPATIAL_KINDS = {_KIND[axis]: spatial_rows(axis) for axis in Axis}
"""`leftright` and `abovebelow`."""
