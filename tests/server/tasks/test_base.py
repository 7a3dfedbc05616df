import random

import pytest

from locvlm.coords.relations import Relation
from locvlm.tasks import Obj, Turn
from locvlm.tasks.base import defined_relations, distinct, reading_key
from locvlm_client import Box

LEFT, RIGHT, ABOVE, BELOW = Relation.LEFT_OF, Relation.RIGHT_OF, Relation.ABOVE, Relation.BELOW


def _obj(x1, y1, x2, y2, category="red circle"):
    return Obj(category=category, box=Box.from_xyxy((x1, y1, x2, y2)))


def test_scene_views(scene_of):
    scene = scene_of(
        ("blue square", (60, 50, 80, 70)),
        ("red circle", (10, 10, 30, 30)),
        ("blue square", (60, 5, 80, 25)),
        ("green diamond", (10, 60, 30, 80)),
    )
    assert [o.box.y1 for o in scene.ordered] == [5, 10, 50, 60]
    assert scene.categories == ("blue square", "red circle", "green diamond")
    assert scene.unique == ("red circle", "green diamond")
    assert [o.category for o in scene.singles] == ["red circle", "green diamond"]
    assert [o.box.y1 for o in scene.instances("blue square")] == [5, 50]
    assert (scene.count("blue square"), scene.count("purple circle")) == (2, 0)
    assert scene.absent(["purple circle", "red circle", "yellow square"]) == [
        "purple circle",
        "yellow square",
    ]


@pytest.mark.parametrize(
    ("vocabulary", "extra"),
    [
        (["red circle", "purple circle"], {"purple circle"}),  # one absent entry added
        (["red circle"], set()),  # nothing absent: present categories only
        ([], set()),  # no vocabulary
    ],
)
def test_with_one_absent(scene_of, vocabulary, extra):
    scene = scene_of(("red circle", (10, 10, 30, 30)))
    assert set(scene.with_one_absent(vocabulary, random.Random(0))) == {"red circle"} | extra


def test_confusable_absent_entries_share_a_word_with_a_present_one(scene_of):
    scene = scene_of(("red circle", (10, 10, 30, 30)), ("blue square", (50, 50, 70, 70)))
    vocabulary = ["red circle", "red square", "green circle", "green diamond", "blue diamond"]
    assert scene.confusable(vocabulary) == ["red square", "green circle", "blue diamond"]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((0, 0, 10, 10), (20, 0, 30, 10)),  # same row: left first
        ((50, 0, 60, 10), (0, 20, 10, 30)),  # higher first, whatever x
        ((0, 5, 10, 15), (20, 6, 30, 8)),  # top edge decides within a row
    ],
)
def test_reading_order(a, b):
    assert reading_key(Box.from_xyxy(a)) < reading_key(Box.from_xyxy(b))


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        (_obj(0, 0, 10, 10), _obj(20, 5, 30, 15), (LEFT,)),  # overlap on y: left only
        (_obj(0, 0, 10, 10), _obj(20, 20, 30, 30), (LEFT, ABOVE)),  # diagonal: both axes
        (_obj(5, 40, 15, 50), _obj(0, 0, 10, 10), (BELOW,)),  # overlap on x: below only
        (_obj(20, 20, 30, 30), _obj(0, 0, 10, 10), (RIGHT, BELOW)),  # diagonal, other way
        (_obj(0, 0, 10, 10), _obj(10, 0, 20, 10), ()),  # touching on x, overlap on y
        (_obj(0, 0, 10, 10), _obj(10, 10, 20, 20), ()),  # touching at a corner
    ],
)
def test_defined_relations(a, b, want):
    assert defined_relations(a, b) == want


def test_turn_is_frozen():
    turn = Turn(task="counting", prompt="How many?", answer="2", expected=2)
    with pytest.raises(AttributeError):
        turn.answer = "3"  # type: ignore[misc]


def test_distinct_drops_a_later_near_copy_of_the_same_kind_only() -> None:
    a = Box.from_xyxy((0, 0, 10, 10))
    near, far = Box.from_xyxy((0, 0, 10, 11)), Box.from_xyxy((5, 5, 15, 15))  # IoU 0.91, 0.14
    items = [("cat", a), ("dog", a), ("cat", far), ("cat", near), ("cat", a)]
    same = lambda x, y: x[0] == y[0]  # noqa: E731
    assert distinct(items, lambda i: i[1], same) == tuple(items[:3])
    assert distinct(items, lambda i: i[1]) == (items[0], items[2])  # any kind
