import pytest
from hypothesis import given

from locvlm.tasks import caption

from .strategies import MODEL_TEXT


def test_prompt():
    assert caption.prompt() == "Describe the image."


@pytest.mark.parametrize(
    ("items", "want"),
    [
        (((1, "red circle"),), "a red circle"),  # one object
        (((1, "orange diamond"),), "an orange diamond"),  # "an" before a vowel
        (((2, "blue square"),), "two blue squares"),  # number word and plural
        (((1, "red circle"), (2, "blue square")), "a red circle and two blue squares"),  # two items
        (((1, "a b"), (1, "c d"), (3, "e f")), "an a b, a c d and three e fs"),  # three items
        ((), "nothing"),  # empty scene
    ],
)
def test_answer(items, want):
    assert caption.answer(items) == want


def test_counts_follow_reading_order(scene_of):
    scene = scene_of(
        ("red circle", (60, 60, 80, 80)),
        ("blue square", (0, 50, 20, 70)),
        ("blue square", (10, 0, 30, 20)),
    )
    assert caption.counts(scene) == ((2, "blue square"), (1, "red circle"))


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("a red circle and two blue squares", ((1, "red circle"), (2, "blue square"))),  # ours
        ("An orange diamond.", ((1, "orange diamond"),)),  # capital, period
        ("3 red circles, 1 blue square", ((3, "red circle"), (1, "blue square"))),  # digits
        ("one red circle", ((1, "red circle"),)),  # "one"
        ("nothing", ()),  # empty scene
        ("red circle", None),  # no count
        ("", None),  # empty
    ],
)
def test_parse(text, want):
    assert caption.parse(text) == want


@given(text=MODEL_TEXT)
def test_parse_never_raises(text):
    caption.parse(text)
