import random

import pytest
from hypothesis import given

from locvlm.coords import get_codec
from locvlm.tasks import locpred
from locvlm.tasks.locpred import Location, NegPredTask
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
        (locpred.absent_answer("red circle"), Location(boxes=())),  # NegPred's absent answer
        ("There are no red circles.", Location(boxes=())),  # absent, other wording
        ("I think it is somewhere", None),  # neither boxes nor absence
        ("[75, 5, 95", None),  # truncated box
        (
            "[75, 5, 95, 45]; [75, 5, 95, 45]",
            Location(boxes=(Box.from_xyxy((151, 5.5, 191, 45.5)),)),
        ),  # a box twice: once
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


def test_absent_answer():
    assert locpred.absent_answer("purple diamond") == "There is no purple diamond."


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("There is no purple diamond.", True),  # our own answer
        ("there are no purple diamonds", True),  # plural
        ("No.", True),  # bare no
        ("Nothing like that.", True),  # nothing
        ("The purple diamond is not present.", True),  # not present
        ("[12, 40, 30, 58]", False),  # a box
        ("yes", False),  # presence
        ("Nobody knows", False),  # "no" inside a word
        ("", False),  # empty
    ],
)
def test_is_absent(text, absent):
    assert locpred.is_absent(text) is absent


def test_negpred_asks_locpred_question_about_absent(scene_of):
    scene = scene_of(("red circle", (10, 10, 30, 30)))
    task = NegPredTask()
    turn = task.sample(scene, IVB, random.Random(0), ["red circle", "blue square"])
    assert turn is not None
    assert turn.prompt in {t.format(phrase="blue square") for t in locpred.TEMPLATES}
    assert turn.answer == "There is no blue square."


def test_negpred_without_absent_category(scene_of):
    scene = scene_of(("red circle", (10, 10, 30, 30)))
    task = NegPredTask()
    assert task.sample(scene, IVB, random.Random(0), ["red circle"]) is None
