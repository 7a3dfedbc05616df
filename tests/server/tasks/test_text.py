import pytest
from hypothesis import given

from locvlm.tasks._text import (
    join_and,
    match_vocabulary,
    normalize,
    number_word,
    parse_number,
    split_and,
    with_article,
    yes_no,
    yes_or_no,
)

from .strategies import MODEL_TEXT


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("red circle", "red circle"),  # already normal
        ("  The Red  circle. ", "red circle"),  # case, article, spaces, punctuation
        ("an orange diamond!", "orange diamond"),  # "an"
        ("the the cup", "cup"),  # repeated article
        ("t-shirt", "t-shirt"),  # hyphen kept
        ("", ""),  # empty
        ("?!", ""),  # punctuation only
    ],
)
def test_normalize(text, want):
    assert normalize(text) == want


@pytest.mark.parametrize(
    ("phrase", "want"),
    [
        ("red circle", "a red circle"),  # consonant
        ("orange square", "an orange square"),  # vowel
        ("Apple", "an Apple"),  # capital vowel
    ],
)
def test_with_article(phrase, want):
    assert with_article(phrase) == want


@pytest.mark.parametrize(
    ("n", "want"),
    [
        (0, "zero"),  # lowest word
        (2, "two"),  # small
        (10, "ten"),  # highest word
        (11, "11"),  # digits beyond
    ],
)
def test_number_word(n, want):
    assert number_word(n) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("3", 3),  # digits
        ("There are three.", 3),  # word in a sentence
        ("Five", 5),  # capitalised
        ("no", 0),  # "no" is zero
        ("There are none.", 0),  # "none" is zero
        ("2 or 3", 2),  # first number wins
        ("nothing", None),  # not a number word
        ("abc3", None),  # glued to a word
        ("9" * 5000, None),  # absurdly long digits are not a count
        ("", None),  # empty
    ],
)
def test_parse_number(text, want):
    assert parse_number(text) == want


@pytest.mark.parametrize(
    "items",
    [
        ["a"],  # one
        ["a", "b"],  # two: no comma
        ["a", "b", "c"],  # three: comma then "and"
        ["red circle", "blue square", "green diamond", "orange triangle"],  # four phrases
    ],
)
def test_join_and_split_and(items):
    assert split_and(join_and(items)) == items


def test_join_and_wording():
    assert join_and(["a", "b", "c"]) == "a, b and c"
    assert join_and([]) == ""


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("yes", True),  # bare yes
        ("No.", False),  # capital, punctuation
        ("Yes, it is.", True),  # in a sentence
        ("no, not yes", False),  # first word wins
        ("nope", None),  # not the word
        ("", None),  # empty
    ],
)
def test_yes_no(text, want):
    assert yes_no(text) is want


def test_yes_or_no():
    assert (yes_or_no(True), yes_or_no(False)) == ("yes", "no")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("red circle", "red circle"),  # exact
        ("The Red Circle.", "red circle"),  # normalised
        ("it is a red circle", "red circle"),  # contained as words
        ("a dark red circle here", "red circle"),  # contained, more words
        ("circle", None),  # only part of an entry
        ("redcircle", None),  # not whole words
        ("red circle and blue square", None),  # two entries: neither
        ("a red circle next to a red circle", "red circle"),  # one entry, twice
        ("", None),  # empty
    ],
)
def test_match_vocabulary(text, want):
    assert match_vocabulary(text, ["red circle", "blue square"]) == want


def test_match_vocabulary_prefers_longest():
    assert match_vocabulary("a red circle", ["circle", "red circle"]) == "red circle"
    assert match_vocabulary("a big red circle", ["circle", "red circle", "big"]) is None  # two


@given(text=MODEL_TEXT)
def test_helpers_never_raise(text):
    normalize(text)
    parse_number(text)
    split_and(text)
    yes_no(text)
    match_vocabulary(text, ["red circle"])
