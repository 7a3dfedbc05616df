import random

import pytest
from hypothesis import given

from locvlm.coords import get_codec
from locvlm.tasks import counting
from locvlm.tasks.counting import CountingTask

from .strategies import MODEL_TEXT


@pytest.mark.parametrize(
    ("phrase", "template", "want"),
    [
        ("red circle", 0, "How many red circles are there?"),  # canonical
        ("blue box", 2, "Count the blue boxes in the image."),  # paraphrase, -x plural
    ],
)
def test_prompt(phrase, template, want):
    assert counting.prompt(phrase, template) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2", 2),  # our answer
        ("0", 0),  # zero
        ("There are three.", 3),  # number word in a sentence
        ("none", 0),  # none
        ("many", None),  # no number
        ("", None),  # empty
    ],
)
def test_parse(text, want):
    assert counting.parse(text) == want


def test_answer():
    assert counting.answer(3) == "3"


def test_sample_asks_about_absent_categories_too(scene_of):
    scene = scene_of(("red circle", (10, 10, 30, 30)), ("red circle", (50, 50, 70, 70)))
    turns = [
        CountingTask().sample(scene, get_codec("ivb"), random.Random(s), ["blue square"])
        for s in range(30)
    ]
    assert {turn.answer for turn in turns if turn} == {"0", "2"}


@given(text=MODEL_TEXT)
def test_parse_never_raises(text):
    counting.parse(text)
