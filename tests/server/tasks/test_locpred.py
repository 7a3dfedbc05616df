import pytest
from hypothesis import given

from locvlm.coords import get_codec
from locvlm.tasks import locpred, negpred
from locvlm.tasks.locpred import Location
from locvlm_client import Box

from .strategies import MODEL_TEXT

IVB = get_codec("ivb")
SIZE = (200, 100)
A, B = Box.from_xyxy((100, 50, 140, 90)), Box.from_xyxy((150, 5, 190, 45))


def test_prompt():
    assert locpred.prompt("red circle") == "Where is the red circle?"
    assert locpred.prompt("red circle", template=2) == "Find the red circle."


def test_answer_lists_boxes_in_reading_order():
    assert locpred.answer([A, B], IVB, SIZE) == "[75, 5, 95, 45]; [50, 50, 70, 90]"


def test_answer_round_trips_with_every_codec(codec, tolerance, close):
    text = locpred.answer([A, B], codec, SIZE)
    assert close(locpred.parse(text, codec, SIZE), Location(boxes=(B, A)), tolerance(SIZE))


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("[75, 5, 95, 45]", Location(boxes=(Box.from_xyxy((151, 5.5, 191, 45.5)),))),  # one box
        (negpred.answer("red circle"), Location(boxes=())),  # NegPred's absent answer
        ("There are no red circles.", Location(boxes=())),  # absent, other wording
        ("I think it is somewhere", None),  # neither boxes nor absence
        ("[75, 5, 95", None),  # truncated box
        ("", None),  # empty
    ],
)
def test_parse(text, want):
    assert locpred.parse(text, IVB, SIZE) == want


@pytest.mark.parametrize(
    ("location", "found"),
    [
        (Location(boxes=(A,)), True),  # located
        (Location(boxes=()), False),  # said absent
    ],
)
def test_found(location, found):
    assert location.found is found


@given(text=MODEL_TEXT)
def test_parse_never_raises(text):
    locpred.parse(text, IVB, SIZE)
