import pytest

from locvlm.coords.relations import Axis, Relation, relation, relation_on_axis
from locvlm_client import Box

A = Box(x1=0, y1=0, x2=10, y2=10)


@pytest.mark.parametrize(
    ("b", "axis", "expected"),
    [
        (Box(x1=20, y1=0, x2=30, y2=10), Axis.HORIZONTAL, Relation.LEFT_OF),  # A left of B
        (Box(x1=-30, y1=0, x2=-20, y2=10), Axis.HORIZONTAL, Relation.RIGHT_OF),  # A right of B
        (Box(x1=10, y1=0, x2=20, y2=10), Axis.HORIZONTAL, None),  # touching: overlap on x
        (Box(x1=5, y1=20, x2=15, y2=30), Axis.HORIZONTAL, None),  # overlapping on x
        (Box(x1=5, y1=20, x2=15, y2=30), Axis.VERTICAL, Relation.ABOVE),  # A above B
        (Box(x1=5, y1=-30, x2=15, y2=-11), Axis.VERTICAL, Relation.BELOW),  # A below B
    ],
)
def test_relation_on_axis(b: Box, axis: Axis, expected: Relation | None) -> None:
    assert relation_on_axis(A, b, axis) is expected


def test_relation_and_inverse() -> None:
    b = Box(x1=20, y1=5, x2=30, y2=15)
    assert relation(A, b, Relation.LEFT_OF) is True
    assert relation(A, b, Relation.RIGHT_OF) is False
    assert relation(b, A, Relation.LEFT_OF.inverse) is True
    assert relation(A, b, Relation.ABOVE) is None  # overlap on y: undefined
    assert Relation.LEFT_OF.mirrored(Axis.HORIZONTAL) is Relation.RIGHT_OF
    assert Relation.ABOVE.mirrored(Axis.HORIZONTAL) is Relation.ABOVE
