import pytest
from hypothesis import given

from locvlm.coords import get_codec
from locvlm.tasks import revloc
from locvlm.tasks.revloc import Named
from locvlm_client import Box

from .strategies import MODEL_TEXT

VOCABULARY = ("red circle", "blue square", "orange diamond")


def test_prompt_writes_the_box_with_the_codec():
    box = Box.from_xyxy((10, 20, 30, 40))
    assert revloc.prompt(box, get_codec("ivb"), (100, 100)) == "What is at [10, 20, 30, 40]?"


def test_answer():
    assert revloc.answer("red circle") == "red circle"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("red circle", Named("red circle", "red circle")),  # our answer
        ("A Red Circle.", Named("red circle", "red circle")),  # article, case, period
        ("It is an orange diamond", Named("it is an orange diamond", "orange diamond")),  # chatty
        ("green triangle", Named("green triangle", None)),  # outside the vocabulary
        ("...", None),  # no words
        ("", None),  # empty
    ],
)
def test_parse(text, want):
    assert revloc.parse(text, VOCABULARY) == want


def test_parse_without_vocabulary():
    assert revloc.parse("The red circle") == Named("red circle", None)


@given(text=MODEL_TEXT)
def test_parse_never_raises(text):
    revloc.parse(text, VOCABULARY)
