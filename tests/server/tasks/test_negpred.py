import random

import pytest
from hypothesis import given

from locvlm.coords import get_codec
from locvlm.tasks import locpred, negpred
from locvlm.tasks.negpred import ExistsTask, NegPredTask

from .strategies import MODEL_TEXT

IVB = get_codec("ivb")


def test_answer():
    assert negpred.answer("purple diamond") == "There is no purple diamond."


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
    assert negpred.is_absent(text) is absent


@pytest.mark.parametrize(
    ("phrase", "want"),
    [
        ("red square", "Is there a red square in the image?"),  # "a"
        ("orange circle", "Is there an orange circle in the image?"),  # "an" before a vowel
    ],
)
def test_exists_prompt(phrase, want):
    assert negpred.exists_prompt(phrase) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("yes", True),  # our answer
        ("no", False),  # our answer
        ("Yes, there is one.", True),  # sentence
        ("There is no red circle.", False),  # NegPred's absent answer means no
        ("maybe", None),  # neither
        ("", None),  # empty
    ],
)
def test_parse_exists(text, want):
    assert negpred.parse_exists(text) is want


def test_negpred_asks_locpred_question_about_absent(scene_of):
    scene = scene_of(("red circle", (10, 10, 30, 30)))
    task = NegPredTask(questions=locpred.TEMPLATES)
    turn = task.sample(scene, IVB, random.Random(0), ["red circle", "blue square"])
    assert turn is not None
    assert turn.prompt in {t.format(phrase="blue square") for t in locpred.TEMPLATES}
    assert turn.answer == "There is no blue square."


def test_negpred_without_absent_category(scene_of):
    scene = scene_of(("red circle", (10, 10, 30, 30)))
    task = NegPredTask(questions=locpred.TEMPLATES)
    assert task.sample(scene, IVB, random.Random(0), ["red circle"]) is None


def test_exists_asks_present_and_absent(scene_of):
    scene = scene_of(("red circle", (10, 10, 30, 30)))
    task = ExistsTask()
    turns = [task.sample(scene, IVB, random.Random(s), ["blue square"]) for s in range(40)]
    assert {turn.answer for turn in turns if turn} == {"yes", "no"}


@given(text=MODEL_TEXT)
def test_parsers_never_raise(text):
    negpred.is_absent(text)
    negpred.parse_exists(text)
