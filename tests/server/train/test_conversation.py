import random

from locvlm.coords import get_codec
from locvlm.data.shapes import CATEGORIES, ShapesConfig, render_scene, task_scene
from locvlm.tasks import locpred
from locvlm.train.conversation import conversation


def test_questions_are_distinct_and_drawn_by_weight() -> None:
    image, objects = render_scene(7, ShapesConfig(size=(96, 96), min_objects=3, max_objects=3))
    scene = task_scene(image.size, objects)
    calls = []

    def asked(s: object) -> list[str]:
        calls.append(s)
        return list(CATEGORIES)

    said = conversation(scene, ["locpred", "revloc"], [1.0, 0.0], 3, get_codec("ivb", bins=32),
                        random.Random(0), asked)  # fmt: skip
    assert 1 <= len(said) <= 3
    assert len({q for q, _ in said}) == len(said)  # no question twice
    grounding = {t.format(phrase=c) for t in locpred.TEMPLATES for c in scene.categories}
    assert all(q in grounding for q, _ in said)  # RevLoc has weight 0: never drawn
    assert calls  # asked once per draw, about this scene
    assert all(c is scene for c in calls)


def test_a_task_with_nothing_to_ask_gives_no_turn() -> None:
    image, objects = render_scene(7, ShapesConfig(size=(96, 96), min_objects=1, max_objects=1))
    scene = task_scene(image.size, objects)  # one object: no relation to ask about
    said = conversation(scene, ["spatial_side"], [1.0], 4, get_codec("ivb", bins=32),
                        random.Random(0), lambda _: list(CATEGORIES))  # fmt: skip
    assert said == []
