import random

import pytest
from hypothesis import given

from locvlm.coords import get_codec
from locvlm.tasks.exists import ExistsTask, exists_prompt, parse_exists

from .strategies import MODEL_TEXT

IVB = get_codec("ivb")


@pytest.mark.parametrize(
    ("phrase", "want"),
    [
        ("red square", "Is there a red square in the image?"),  # "a"
        ("orange circle", "Is there an orange circle in the image?"),  # "an" before a vowel
    ],
)
def test_exists_prompt(phrase, want):
    assert exists_prompt(phrase) == want


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
    assert parse_exists(text) is want


def test_exists_asks_present_and_absent(scene_of):
    scene = scene_of(("red circle", (10, 10, 30, 30)))
    task = ExistsTask()
    turns = [task.sample(scene, IVB, random.Random(s), ["blue square"]) for s in range(40)]
    assert {turn.answer for turn in turns if turn} == {"yes", "no"}


def test_exists_judges_yes_and_no():
    task = ExistsTask()
    assert task.judge("Yes.", {"answer": "yes"}, IVB, (100, 100)).correct
    assert not task.judge("no", {"answer": "yes"}, IVB, (100, 100)).correct
    assert not task.judge("maybe", {"answer": "no"}, IVB, (100, 100)).parsed


@given(text=MODEL_TEXT)
def test_parser_never_raises(text):
    parse_exists(text)
