"""Spatial relations between two boxes, as the shapes-world contract defines them.

`A left of B` holds when A's box lies entirely left of B's (`A.x2 < B.x1`); likewise
right/above/below. When the boxes overlap on the relation's axis the relation is
undefined (`None`), and no question about it should be asked.
"""

from __future__ import annotations

from enum import StrEnum

from locvlm_client import Box

__all__ = ["Axis", "Relation", "relation", "relation_on_axis"]


class Axis(StrEnum):
    """The axis a relation compares on."""

    HORIZONTAL = "horizontal"
    VERTICAL = "vertical"


class Relation(StrEnum):
    """A spatial relation of A to B; the value is its English phrase."""

    LEFT_OF = "left of"
    RIGHT_OF = "right of"
    ABOVE = "above"
    BELOW = "below"

    @property
    def axis(self) -> Axis:
        """The axis this relation is decided on."""
        if self in (Relation.LEFT_OF, Relation.RIGHT_OF):
            return Axis.HORIZONTAL
        return Axis.VERTICAL

    @property
    def inverse(self) -> Relation:
        """The relation of B to A when this one holds of A to B."""
        return _INVERSE[self]

    def mirrored(self, axis: Axis) -> Relation:
        """The relation after flipping the image along `axis`.

        A horizontal flip swaps left and right; relations on the other axis stay.
        """
        return self.inverse if self.axis is axis else self


_INVERSE = {
    Relation.LEFT_OF: Relation.RIGHT_OF,
    Relation.RIGHT_OF: Relation.LEFT_OF,
    Relation.ABOVE: Relation.BELOW,
    Relation.BELOW: Relation.ABOVE,
}


def relation_on_axis(a: Box, b: Box, axis: Axis) -> Relation | None:
    """The relation of `a` to `b` on `axis`, or None when they overlap on it."""
    if axis is Axis.HORIZONTAL:
        if a.x2 < b.x1:
            return Relation.LEFT_OF
        if b.x2 < a.x1:
            return Relation.RIGHT_OF
        return None
    if a.y2 < b.y1:
        return Relation.ABOVE
    if b.y2 < a.y1:
        return Relation.BELOW
    return None


def relation(a: Box, b: Box, rel: Relation) -> bool | None:
    """Whether `rel` holds of `a` to `b`: True, False, or None when undefined."""
    found = relation_on_axis(a, b, rel.axis)
    return None if found is None else found is rel
