import random
import re

import pytest
from hypothesis import given

from locvlm.coords import get_codec
from locvlm.coords.relations import Axis, Relation, relation
from locvlm.tasks import Obj, spatial
from locvlm.tasks.spatial import CategoryTask, SideTask, SpatialAnswer, YesNoTask
from locvlm_client import Box

from .strategies import MODEL_TEXT

IVB = get_codec("ivb")
SIZE = (100, 100)
LEFT, RIGHT, ABOVE, BELOW = Relation.LEFT_OF, Relation.RIGHT_OF, Relation.ABOVE, Relation.BELOW
RC, BS, GD = "red circle", "blue square", "green diamond"
CIRCLE = Obj(RC, Box.from_xyxy((10, 40, 30, 60)))
SQUARE = Obj(BS, Box.from_xyxy((60, 35, 80, 55)))
WITH_EVIDENCE = "red circle [10, 40, 30, 60]; blue square [60, 35, 80, 55]. Answer: yes"
TASKS = [YesNoTask(), SideTask(), CategoryTask(), YesNoTask(evidence=True)]


def _turns(task, scene, n=40):
    turns = [task.sample(scene, IVB, random.Random(seed), []) for seed in range(n)]
    return [turn for turn in turns if turn is not None]


def test_prompts():
    assert spatial.yes_no_prompt(RC, LEFT, BS) == "Is the red circle left of the blue square?"
    assert spatial.side_prompt(RC, BS) == "Which side of the blue square is the red circle?"
    assert (
        spatial.side_prompt(RC, BS, Axis.VERTICAL)
        == "Is the red circle above or below the blue square?"
    )
    assert spatial.category_prompt(LEFT, BS) == "What is left of the blue square?"


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (True, "yes"),  # yes/no
        (False, "no"),  # yes/no
        (LEFT, "left"),  # side, horizontal
        (BELOW, "below"),  # side, vertical
        ((RC,), "red circle"),  # one category
        ((RC, BS, GD), "red circle, blue square and green diamond"),  # several
        ((), "nothing"),  # none
    ],
)
def test_answer(value, want):
    assert spatial.answer(value) == want


def test_answer_with_evidence():
    text = spatial.answer_with_evidence(True, [CIRCLE, SQUARE], IVB, SIZE)
    assert text == WITH_EVIDENCE


def test_evidence_round_trips_with_every_codec(codec, tolerance, close):
    text = spatial.answer_with_evidence(LEFT, [CIRCLE, SQUARE], codec, SIZE)
    want = SpatialAnswer(LEFT, (CIRCLE, SQUARE))
    assert close(spatial.parse(text, "side", codec, SIZE), want, tolerance(SIZE))


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("yes", "yes_no", True),  # ours
        ("No, it is not.", "yes_no", False),  # sentence
        ("perhaps", "yes_no", None),  # unreadable
        ("left", "side", LEFT),  # ours
        ("It is on the right.", "side", RIGHT),  # sentence
        ("Above.", "side", ABOVE),  # capital, period
        ("inside", "side", None),  # unreadable
        ("red circle and blue square", "category", (RC, BS)),  # ours
        ("The red circle, a blue square and green diamond", "category", (RC, BS, GD)),  # loose
        ("nothing", "category", ()),  # none
        ("", "category", None),  # empty
        ("red circle [1, 2, 3, 4]. Answer: no", "yes_no", False),  # with evidence
        ("red circle [1, 2, 3, 4]. answer : left", "side", LEFT),  # mark in lowercase, spaced
    ],
)
def test_parse_value(text, kind, value):
    assert spatial.parse(text, kind, IVB, SIZE).value == value


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        (WITH_EVIDENCE, [RC, BS]),  # ours
        ("red circle [10, 40, 30, 60]. Answer: yes", [RC]),  # one box
        ("yes", []),  # no evidence
        ("red circle [10, 40, 30, 60] yes", []),  # no answer mark: no evidence read
    ],
)
def test_parse_evidence(text, labels):
    assert [obj.category for obj in spatial.parse(text, "yes_no", IVB, SIZE).evidence] == labels


def test_parse_unknown_kind():
    with pytest.raises(KeyError):
        spatial.parse("yes", "colour", IVB, SIZE)


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.name)
def test_repeated_categories_are_never_asked_about(scene_of, task):
    scene = scene_of(
        (RC, (0, 0, 20, 20)),
        (RC, (80, 80, 100, 100)),
        (BS, (40, 0, 60, 20)),
        (BS, (40, 80, 60, 100)),
    )
    assert task.sample(scene, IVB, random.Random(0), []) is None


@pytest.mark.parametrize("task", TASKS[:2], ids=lambda task: task.name)
def test_only_unique_categories_are_named(scene_of, task):
    scene = scene_of(
        (RC, (0, 0, 20, 20)),
        (RC, (80, 80, 100, 100)),
        (BS, (40, 0, 60, 20)),
        (GD, (40, 60, 60, 80)),
    )
    for turn in _turns(task, scene):
        assert RC not in turn.prompt
        assert BS in turn.prompt
        assert GD in turn.prompt


@pytest.mark.parametrize(
    ("square", "axes"),
    [
        ((60, 40, 80, 60), {Axis.HORIZONTAL}),  # same row: overlap on y, left/right only
        ((10, 70, 30, 90), {Axis.VERTICAL}),  # same column: overlap on x, above/below only
        ((60, 70, 80, 90), {Axis.HORIZONTAL, Axis.VERTICAL}),  # diagonal: both
        ((30, 60, 50, 80), set()),  # touching at a corner: neither
    ],
)
def test_only_defined_relations_are_asked(scene_of, square, axes):
    scene = scene_of((RC, (10, 40, 30, 60)), (BS, square))
    side_turns = _turns(SideTask(), scene)
    assert {turn.expected.value.axis for turn in side_turns} == axes
    for turn in _turns(YesNoTask(), scene):
        asked = next(rel for rel in Relation if f" {rel.value} " in turn.prompt)
        assert asked.axis in axes


def test_yes_no_answers_match_geometry(scenes):
    for seed, scene in enumerate(scenes):
        turn = YesNoTask().sample(scene, IVB, random.Random(seed), [])
        if turn is None:
            continue
        a, rel, b = _asked(turn.prompt, scene)
        assert relation(a.box, b.box, rel) is turn.expected.value


def _asked(prompt, scene):
    """The subject, relation and reference that a yes/no prompt names."""
    asked = {
        template.format(subject=a.category, relation=rel.value, reference=b.category): (a, rel, b)
        for template in spatial.YES_NO_TEMPLATES
        for a in scene.singles
        for b in scene.singles
        for rel in Relation
    }
    return asked[prompt]


@pytest.mark.parametrize(
    ("rel", "want"),
    [
        (LEFT, (RC, GD)),  # several, in reading order; the overlapping one left out
        (RIGHT, ()),  # nothing
        (ABOVE, (RC, "yellow square")),  # two, in reading order
        (BELOW, (GD,)),  # one
    ],
)
def test_category_answers(scene_of, rel, want):
    scene = scene_of(
        (GD, (0, 80, 20, 100)),
        (RC, (0, 0, 20, 20)),
        (BS, (50, 50, 70, 70)),
        ("yellow square", (45, 10, 55, 30)),  # overlaps the blue square on x
    )
    turns = [
        t for t in _turns(CategoryTask(), scene, 200) if t.prompt.endswith(f"{rel.value} the {BS}?")
    ]
    assert turns
    assert {turn.expected.value for turn in turns} == {want}


def test_evidence_lists_the_objects_involved(scene_of):
    scene = scene_of((RC, (10, 40, 30, 60)), (BS, (60, 35, 80, 55)))
    turn = YesNoTask(evidence=True).sample(scene, IVB, random.Random(0), [])
    assert turn is not None
    assert turn.answer.startswith(("red circle [10, 40, 30, 60]; blue square", "blue square"))
    assert turn.answer.endswith((". Answer: yes", ". Answer: no"))
    assert len(turn.expected.evidence) == 2


@pytest.mark.parametrize("task", [YesNoTask(evidence=True), SideTask(evidence=True)])
def test_evidence_constraint_names_the_subject_then_the_reference(scene_of, task):
    scene = scene_of((RC, (10, 40, 30, 60)), (BS, (60, 35, 80, 55)), (GD, (40, 0, 50, 10)))
    turns = [t for t in _turns(task, scene) if t.expected.evidence[0].category == RC]
    assert turns
    turn = turns[0]
    args = {"subject": RC, "reference": turn.expected.evidence[1].category}
    vertical = any(w in turn.prompt for w in ("above", "higher", "over"))
    args["axis"] = Axis.VERTICAL if vertical else Axis.HORIZONTAL
    pattern = task.constraint(args, IVB, [RC, BS, GD])
    assert re.fullmatch(pattern, turn.answer)
    first, rest = turn.answer.split("; ", 1)
    second, value = rest.split(". ", 1)
    looped = f"{first}; {second}; {second}. {value}"  # a third box: what a loop writes
    assert not re.fullmatch(pattern, looped)
    assert not re.fullmatch(pattern, f"{second}; {first}. {value}")  # reference first
    unknown = task.constraint({**args, "subject": "pink star"}, IVB, [RC, BS, GD])
    assert re.fullmatch(unknown, looped)  # phrases outside the vocabulary: any listing


@pytest.mark.parametrize(
    "kind",
    [
        "yes_no",  # yes/no reader
        "side",  # side reader
        "category",  # category list reader
    ],
)
@given(text=MODEL_TEXT)
def test_parse_never_raises(kind, text):
    spatial.parse(text, kind, IVB, SIZE)


def test_a_yes_no_question_asked_as_its_side_question() -> None:
    from locvlm.tasks.spatial import side_args, yes_from_side

    args = {"subject": "red circle", "reference": "blue square", "relation": "above"}
    assert side_args(args) == {"subject": "red circle", "reference": "blue square",
                               "axis": "vertical"}  # fmt: skip
    assert yes_from_side(Relation.ABOVE, Relation.ABOVE) is True
    assert yes_from_side(Relation.BELOW, Relation.ABOVE) is False
    assert yes_from_side(None, Relation.ABOVE) is None  # no side read: no answer
