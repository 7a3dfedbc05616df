import pytest
from hypothesis import given

from locvlm.tasks._plural import plural, singular

from .strategies import MODEL_TEXT


@pytest.mark.parametrize(
    ("one", "many"),
    [
        ("red circle", "red circles"),  # shapes-world category
        ("blue diamond", "blue diamonds"),  # shapes-world category
        ("wine glass", "wine glasses"),  # -ss
        ("box", "boxes"),  # -x
        ("bench", "benches"),  # -ch
        ("dish", "dishes"),  # -sh
        ("berry", "berries"),  # consonant + y
        ("toy", "toys"),  # vowel + y
        ("horse", "horses"),  # -se: only "s"
        ("tie", "ties"),  # -ie
        ("person", "people"),  # irregular
        ("knife", "knives"),  # f -> ves
        ("bus", "buses"),  # -s
        ("potato", "potatoes"),  # -o + es
        ("sheep", "sheep"),  # unchanged
        ("traffic light", "traffic lights"),  # only the last word changes
        ("", ""),  # empty
    ],
)
def test_plural_and_back(one, many):
    assert plural(one) == many
    assert singular(many) == one


def test_shapes_categories_round_trip(vocabulary):
    assert [singular(plural(category)) for category in vocabulary] == list(vocabulary)


@given(text=MODEL_TEXT)
def test_never_raises(text):
    plural(text)
    singular(text)
