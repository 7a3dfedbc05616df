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
        ("red circle and blue square", Named("red circle and blue square", None)),  # a list
        ("red circle, orange diamond", Named("red circle orange diamond", None)),
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


def test_a_list_is_wrong_even_against_its_own_category():
    """The eval passes the expected category as the vocabulary: a caption-like list of
    every object in the scene must not score as naming the one at the box."""
    got = revloc.parse("red square and purple square", ["red square"])
    assert got is not None
    assert got.category is None
    assert got.text != "red square"
