import pytest
from hypothesis import given

from locvlm.coords import get_codec
from locvlm.tasks import TASKS, Obj, detect
from locvlm_client import Box

from .strategies import MODEL_TEXT

IVB = get_codec("ivb")
SIZE = (100, 100)
RC, BS = "red circle", "blue square"
CIRCLE = Obj("red circle", Box.from_xyxy((10, 10, 30, 30)))
SQUARE = Obj("blue square", Box.from_xyxy((50, 0, 70, 20)))
RED, BLUE, FAR = [20, 10, 60, 50], [120, 40, 160, 80], [100, 0, 140, 30]


@pytest.mark.parametrize(
    ("categories", "want"),
    [
        (None, "List every object."),  # everything
        (["red circle"], "List every red circle."),  # one category
        (["a", "b", "c"], "List every a, b and c."),  # joined list
    ],
)
def test_prompt(categories, want):
    assert detect.prompt(categories) == want


@pytest.mark.parametrize(
    ("objects", "want"),
    [
        ([CIRCLE, SQUARE], f"{BS} [50, 0, 70, 20]; {RC} [10, 10, 30, 30]"),  # reading order
        ([CIRCLE], "red circle [10, 10, 30, 30]"),  # one
        ([], "nothing"),  # none
    ],
)
def test_answer(objects, want):
    assert detect.answer(objects, IVB, SIZE) == want


def test_listing_round_trips_with_every_codec(codec, tolerance, close):
    text = detect.listing([CIRCLE, SQUARE], codec, SIZE)
    assert close(detect.parse(text, codec, SIZE), (CIRCLE, SQUARE), tolerance(SIZE))


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("red circle [10, 10, 30, 30]; blue square [50, 0, 70, 20]", [RC, BS]),  # ours
        ("The red circle [10,10,30,30]; a blue square [50 0 70 20]", [RC, BS]),  # loose boxes
        ("red circle [10, 10, 30, 30]; blue square [50, 0", [RC]),  # truncated
        ("[10, 10, 30, 30]", [""]),  # box without a label
        (f"{RC} [10, 10, 30, 30]; {BS} [50, 0, 70, 20]; {RC} [10, 10, 30, 30]", [RC, BS]),  # loop
        (f"{RC} [10, 10, 30, 30]; {RC} [11, 10, 30, 31]", [RC]),  # nearly the same box
        (f"{RC} [10, 10, 30, 30]; {BS} [10, 10, 30, 30]", [RC, BS]),  # two labels: kept
        (f"{RC} [10, 10, 30, 30]; {RC} [20, 10, 40, 30]", [RC, RC]),  # IoU 1/3: two objects
    ],
)
def test_parse_labels(text, labels):
    found = detect.parse(text, IVB, SIZE)
    assert found is not None
    assert [obj.category for obj in found] == labels


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("nothing", ()),  # our empty answer
        ("Nothing.", ()),  # capital, period
        ("a red circle", None),  # no box
        ("", None),  # empty
    ],
)
def test_parse_without_boxes(text, want):
    assert detect.parse(text, IVB, SIZE) == want


@given(text=MODEL_TEXT)
def test_parse_never_raises(text):
    detect.parse(text, IVB, SIZE)
    detect.parse(text, get_codec("diga"), SIZE)


@pytest.mark.parametrize(
    ("listed", "right", "predicted", "hits"),
    [
        ([("red circle", RED), ("blue square", BLUE)], True, 2, 2),  # both, any order
        ([("blue square", BLUE), ("red circle", RED)], True, 2, 2),  # reversed
        ([("red circle", RED)], False, 1, 1),  # one missed
        ([("red circle", RED), ("blue square", BLUE), ("red circle", RED)], True, 2, 2),  # loop
        ([("red circle", RED), ("blue square", BLUE), ("red circle", FAR)], False, 3, 2),  # extra
        ([("blue square", RED), ("red circle", BLUE)], False, 2, 0),  # labels swapped
    ],
)
def test_judge_counts_matches_for_precision_and_recall(listed, right, predicted, hits) -> None:
    codec = get_codec("ivb", bins=100)
    text = detect.listing([Obj(c, Box.from_xyxy(b)) for c, b in listed], codec, (200, 100))
    expected = {
        "objects": [
            {"category": "red circle", "box": RED},
            {"category": "blue square", "box": BLUE},
        ]
    }
    judged = TASKS["detect"].judge(text, expected, codec, (200, 100))
    assert judged.correct is right
    assert judged.said == {"predicted": predicted, "expected": 2, "matched": hits}


def test_judge_of_nothing_listed() -> None:
    judged = TASKS["detect"].judge("nothing", {"objects": []}, get_codec("ivb"), (64, 64))
    assert judged.correct
    assert judged.said == {"predicted": 0, "expected": 0, "matched": 0}


def test_grounded_reads_the_listing_and_looks_again_only_where_it_names_none() -> None:
    listed = (CIRCLE, SQUARE)
    elsewhere, on_square = Box.from_xyxy((10, 60, 30, 80)), Box.from_xyxy((52, 2, 70, 20))
    assert detect.grounded(listed, RC, [elsewhere]) == (CIRCLE.box,)  # the listing's word
    assert detect.grounded(listed, "red square", [elsewhere]) == (elsewhere,)  # a miss
    assert detect.grounded(listed, "red square", [on_square]) == ()  # the blue square
    assert detect.grounded(listed, "red square") == ()  # no second look
    assert detect.grounded((), RC, [elsewhere, on_square]) == (elsewhere, on_square)


def test_outside_keeps_the_boxes_no_listed_box_covers() -> None:
    elsewhere, on_square = Box.from_xyxy((10, 60, 30, 80)), Box.from_xyxy((52, 2, 70, 20))
    listed = [CIRCLE.box, SQUARE.box]
    assert detect.outside([elsewhere, on_square], listed) == (elsewhere,)
    assert detect.outside([on_square], listed, overlap=0.99) == (on_square,)  # a looser bar
    assert detect.outside([elsewhere], []) == (elsewhere,)


def test_checked_drops_own_boxes_on_another_listed_object_and_adds_missed_instances() -> None:
    elsewhere, on_square = Box.from_xyxy((10, 60, 30, 80)), Box.from_xyxy((52, 2, 70, 20))
    listed = (CIRCLE, SQUARE)
    assert detect.checked(listed, "red square", [on_square]) == ()  # the blue square
    assert detect.checked(listed, "red square", [elsewhere]) == (elsewhere,)  # unlisted
    assert detect.checked(listed, RC, [elsewhere]) == (CIRCLE.box, elsewhere)  # + missed
    assert detect.checked(listed, RC, [CIRCLE.box]) == (CIRCLE.box,)  # covered: once
    assert detect.checked(listed, RC, []) == (CIRCLE.box,)  # said none: the listing's
    assert detect.checked((), RC, [on_square]) == (on_square,)  # nothing listed


def test_a_second_look_adds_only_boxes_no_object_covers() -> None:
    listed = [Obj("red circle", Box.from_xyxy((0, 0, 10, 10)))]
    answers = {
        "red square": [Box.from_xyxy((1, 1, 10, 10)),  # the listed circle again: a mix-up
                       Box.from_xyxy((20, 0, 30, 10))],  # a new object
        "blue square": [Box.from_xyxy((21, 0, 30, 10))],  # the one just added: covered
        "red circle": [Box.from_xyxy((0, 20, 10, 30))],  # a second instance
    }  # fmt: skip
    got = detect.completed(listed, answers)
    assert [(o.category, o.box.to_xyxy()) for o in got] == [
        ("red square", (20, 0, 30, 10)),
        ("red circle", (0, 20, 10, 30)),
    ]
    assert detect.completed(listed, {}) == ()
