import pytest
from hypothesis import given

from locvlm.coords.relations import Axis, Relation
from locvlm.tasks import counting, spatial
from locvlm.tasks.classify import ANSWER_TYPES, ClassifiedQuestion, classify

from .strategies import MODEL_TEXT

LEFT, BELOW = Relation.LEFT_OF, Relation.BELOW
H, V = Axis.HORIZONTAL, Axis.VERTICAL
RC, BS = "red circle", "blue square"
Q = ClassifiedQuestion  # short, so that each case fits on its line
ARGS = {"subject": RC, "reference": BS}

# Every template of every routed kind, filled in, with the question it must give back.
TEMPLATE_CASES = [
    *(
        (t.format(relation="below", **ARGS), Q("yes_no", RC, BS, BELOW, V))
        for t in spatial.YES_NO_TEMPLATES
    ),
    *(
        (t.format(**ARGS), Q("side", RC, BS, None, axis))
        for axis, templates in spatial.SIDE_TEMPLATES.items()
        for t in templates
    ),
    *(
        (t.format(relation="left of", reference=BS), Q("category", None, BS, LEFT, H))
        for t in spatial.CATEGORY_TEMPLATES
    ),
    *((t.format(plural="red circles"), Q("count", RC)) for t in counting.TEMPLATES),
]


@pytest.mark.parametrize(("question", "want"), TEMPLATE_CASES, ids=[q for q, _ in TEMPLATE_CASES])
def test_every_template_is_recognised(question, want):
    assert classify(question) == want


@pytest.mark.parametrize(
    ("question", "want"),
    [
        ("Is the cup to the left of the tv?", Q("yes_no", "cup", "tv", LEFT, H)),  # "to the"
        ("is a red circle below the blue square", Q("yes_no", RC, BS, BELOW, V)),  # "a", no "?"
        ("IS THE RED CIRCLE BELOW  THE BLUE SQUARE?", Q("yes_no", RC, BS, BELOW, V)),  # shouting
        ("What is on the left of the blue square?", Q("category", None, BS, LEFT, H)),  # "on the"
        ("How many people are there?", Q("count", "person")),  # irregular plural
        ("How many boxes are in the image?", Q("count", "box")),  # -es plural
    ],
)
def test_variants(question, want):
    assert classify(question) == want


@pytest.mark.parametrize(
    "question",
    [
        "",  # empty
        "hello there",  # chat
        "Where is the red circle?",  # grounding, not spatial
        "Describe the image.",  # caption
        "What is at [1, 2, 3, 4]?",  # reverse location
        "Is the red circle big?",  # yes/no but no relation
        "Which side is better?",  # "which side" without objects
        "Is the " + "red circle " * 60 + "left of the blue square?",  # too long to be a template
    ],
)
def test_free(question):
    assert classify(question) == Q("free")


@given(text=MODEL_TEXT)
def test_never_raises(text):
    assert classify(text).answer_type in ANSWER_TYPES
