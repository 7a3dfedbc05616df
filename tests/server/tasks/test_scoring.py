import pytest

from locvlm.coords.relations import Relation
from locvlm.tasks import Obj
from locvlm.tasks.locpred import Location
from locvlm.tasks.scoring import boxes_match, correct
from locvlm.tasks.spatial import SpatialAnswer, evidence_correct
from locvlm_client import Box

A = Box(x1=0, y1=0, x2=10, y2=10)
A_NEAR = Box(x1=1, y1=1, x2=11, y2=11)  # IoU 81/119 = 0.68
A_FAR = Box(x1=4, y1=4, x2=14, y2=14)  # IoU 36/164 = 0.22
B = Box(x1=50, y1=50, x2=70, y2=60)


@pytest.mark.parametrize(
    ("got", "want", "expected"),
    [
        ([A_NEAR], [A], True),  # one box, IoU above 0.5
        ([A_FAR], [A], False),  # one box, IoU below 0.5
        ([B, A_NEAR], [A, B], True),  # order does not matter
        ([A_NEAR], [A, B], False),  # a missed instance
        ([A_NEAR, B, B], [A, B], False),  # an extra box
        ([A_NEAR, A_NEAR], [A, B], False),  # one box cannot match two
        ([], [], True),  # absent and said absent
    ],
)
def test_boxes_match(got: list[Box], want: list[Box], expected: bool) -> None:
    assert boxes_match(got, want) is expected


@pytest.mark.parametrize(
    ("got", "want", "expected"),
    [
        (Location((A_NEAR,)), Location((A,)), True),  # grounding right
        (Location(()), Location((A,)), False),  # said absent, present
        (None, Location((A,)), False),  # unparsed
        (SpatialAnswer(True, ()), SpatialAnswer(True, (Obj("x", A),)), True),  # evidence ignored
        (SpatialAnswer(Relation.LEFT_OF), SpatialAnswer(Relation.RIGHT_OF), False),  # wrong side
        (3, 3, True),  # counting
        ((1, "red circle"), (1, "red circle"), True),  # nested tuples
    ],
)
def test_correct(got: object, want: object, expected: bool) -> None:
    assert correct(got, want) is expected


def test_evidence_correct() -> None:
    want = SpatialAnswer(True, (Obj("red circle", A), Obj("blue square", B)))
    assert evidence_correct(
        SpatialAnswer(True, (Obj("red circle", A_NEAR), Obj("blue square", B))), want
    )
    assert not evidence_correct(
        SpatialAnswer(True, (Obj("red circle", A_FAR), Obj("blue square", B))), want
    )
    assert not evidence_correct(SpatialAnswer(True, (Obj("red circle", A),)), want)
    assert not evidence_correct(None, want)
