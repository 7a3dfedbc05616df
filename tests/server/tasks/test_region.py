import random

import pytest
from hypothesis import given

from locvlm.coords import get_codec
from locvlm.coords.relations import Relation
from locvlm.tasks import region
from locvlm.tasks.base import Obj
from locvlm.tasks.region import Description, RegionTask
from locvlm_client import Box

from .strategies import MODEL_TEXT

IVB = get_codec("ivb")
LEFT, ABOVE = Relation.LEFT_OF, Relation.ABOVE
RC, BS = "red circle", "blue square"


@pytest.mark.parametrize(
    ("context", "want"),
    [
        (True, "Describe the region [10, 20, 30, 40] in context."),  # contextual
        (False, "Describe the region [10, 20, 30, 40]."),  # plain
    ],
)
def test_prompt(context, want):
    assert region.prompt(Box.from_xyxy((10, 20, 30, 40)), IVB, (100, 100), context) == want


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ((RC, LEFT, BS), "the red circle left of the blue square"),  # context
        ((RC, ABOVE, BS), "the red circle above the blue square"),  # vertical
        (("red circle",), "the red circle"),  # plain
    ],
)
def test_answer(args, want):
    assert region.answer(*args) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("the red circle left of the blue square", Description(RC, LEFT, BS)),  # ours
        ("The red circle, to the left of a blue square.", Description(RC, LEFT, BS)),  # loose
        ("the red circle above the blue square", Description(RC, ABOVE, BS)),  # vertical
        ("the red circle", Description(RC)),  # plain
        ("red circle left of", Description("red circle left of")),  # relation without object
        ("", None),  # empty
    ],
)
def test_parse(text, want):
    assert region.parse(text) == want


def test_context_prefers_objects_that_appear_once(scene_of):
    scene = scene_of(
        ("red circle", (40, 40, 60, 60)),
        ("blue square", (0, 0, 20, 20)),
        ("blue square", (80, 80, 100, 100)),
        ("green diamond", (80, 0, 100, 20)),
    )
    target = scene.objects[0]
    picks = {region.context(scene, target, random.Random(s)) for s in range(30)}
    assert {other.category for _, other in picks} == {"green diamond"}
    assert {rel for rel, _ in picks} == {LEFT, Relation.BELOW}


def test_context_falls_back_to_repeated_categories(scene_of):
    scene = scene_of(
        ("red circle", (40, 40, 60, 60)),
        ("blue square", (0, 0, 20, 20)),
        ("blue square", (80, 80, 100, 100)),
    )
    found = region.context(scene, scene.objects[0], random.Random(0))
    assert found is not None
    assert found[1].category == "blue square"


def test_partners_are_the_unique_ones_if_any_relates_else_every_other(scene_of):
    scene = scene_of(
        ("red circle", (40, 40, 60, 60)),
        ("blue square", (0, 0, 20, 20)),
        ("blue square", (80, 80, 100, 100)),
        ("green diamond", (45, 45, 55, 55)),  # unique, but overlaps the circle on both axes
    )
    assert [o.box.x1 for o in region.partners(scene, scene.objects[0])] == [0, 80]
    assert region.partners(scene, scene.objects[3]) == list(scene.objects[1:3])


@pytest.mark.parametrize(
    "items",
    [
        [("red circle", (10, 10, 30, 30))],  # alone in the scene
        [(RC, (10, 10, 30, 30)), (BS, (30, 20, 50, 40))],  # touching on x, overlap on y
    ],
)
def test_no_context_describes_category_only(scene_of, items):
    scene = scene_of(*items)
    assert region.context(scene, scene.objects[0], random.Random(0)) is None
    turn = RegionTask(in_context=True).sample(scene, IVB, random.Random(0), [])
    assert turn is not None
    assert turn.answer.startswith("the ")
    assert turn.expected.relation is None


def test_plain_task_never_relates(scenes, vocabulary):
    task = RegionTask(in_context=False)
    for seed, scene in enumerate(scenes):
        turn = task.sample(scene, IVB, random.Random(seed), vocabulary)
        assert turn is not None
        assert turn.expected.relation is None


@given(text=MODEL_TEXT)
def test_parse_never_raises(text):
    region.parse(text)


@pytest.mark.parametrize(
    ("text", "valid", "mistake"),
    [
        ("the red circle left of the blue square", [["left of", BS]], None),  # right
        ("the blue circle left of the blue square", [["left of", BS]], "category"),
        ("the red circle left of the blue square", [], "relation where none holds"),
        ("the red circle", [["left of", BS]], "no relation"),
        ("the red circle left of the green diamond", [["left of", BS]], "partner"),  # absent
        ("the red circle left of the red circle", [["left of", BS]], "partner"),  # itself
        ("the red circle above the blue square", [["left of", BS]], "relation"),
        ("the red circle", [], None),  # nothing to relate to: the category alone is right
    ],
)
def test_a_wrong_description_says_what_is_wrong(text, valid, mistake):
    expected = {"category": RC, "valid": valid}
    judged = RegionTask().judge(text, expected, IVB, (100, 100))
    assert judged.correct is (mistake is None)
    assert judged.mistake == mistake


def _obj(category: str, xyxy: tuple[float, float, float, float]) -> Obj:
    return Obj(category=category, box=Box.from_xyxy(xyxy))


def test_relate_leaves_out_the_region_itself_and_prefers_a_clear_unique_partner():
    region_box = Box.from_xyxy((40, 40, 60, 60))
    listed = [
        _obj(RC, (41, 41, 59, 59)),  # the region itself, as listed: left out
        _obj("green circle", (0, 0, 10, 10)),  # twice in the scene: ambiguous
        _obj("green circle", (90, 90, 99, 99)),
        _obj(BS, (62, 45, 70, 55)),  # the region is left of it by 2 px only
        _obj("yellow diamond", (45, 80, 55, 95)),  # and above this by 20 px: the clearest
    ]
    assert region.relate(region_box, listed) == (Relation.ABOVE, "yellow diamond")
    assert region.relate(region_box, listed[:4]) == (Relation.LEFT_OF, BS)
    only_twice = region.relate(region_box, listed[:3])  # only an ambiguous partner is left
    assert only_twice is not None
    assert only_twice[1] == "green circle"


def test_relate_finds_nothing_when_every_other_object_overlaps_the_region():
    region_box = Box.from_xyxy((40, 40, 60, 60))
    assert region.relate(region_box, [_obj(RC, (40, 40, 60, 60))]) is None
    assert region.relate(region_box, [_obj(BS, (50, 50, 80, 80))]) is None  # overlaps both axes
    assert region.relate(region_box, []) is None


def test_in_scene_names_the_region_as_listed_and_relates_it_to_the_others():
    region_box = Box.from_xyxy((40, 40, 60, 60))
    listed = [_obj(RC, (41, 41, 59, 59)), _obj(BS, (70, 40, 90, 60))]
    assert region.listed_at(region_box, listed) == listed[0]
    assert region.in_scene(BS, region_box, listed) == (RC, "the red circle left of the blue square")
    elsewhere = [_obj(RC, (0, 0, 10, 10)), listed[1]]  # nothing listed at the region
    assert region.listed_at(region_box, elsewhere) is None
    assert region.in_scene(BS, region_box, elsewhere)[0] == BS  # the model's own answer
    assert region.in_scene(RC, region_box, [])[1] == "the red circle"  # no partner
    assert region.in_scene(BS, region_box, listed, context=False) == (RC, "the red circle")
