import random

import pytest
from hypothesis import given, settings

from locvlm.coords import get_codec
from locvlm.tasks import TASKS, get_task

from .strategies import MODEL_TEXT

IVB = get_codec("ivb")


@pytest.mark.parametrize("name", sorted(TASKS))
def test_round_trip(name, scenes, codec, vocabulary, tolerance, close):
    task = get_task(name)
    turns = 0
    for seed, scene in enumerate(scenes):
        turn = task.sample(scene, codec, random.Random(seed), vocabulary)
        if turn is None:
            continue
        turns += 1
        assert turn.task == name
        assert turn.prompt
        assert turn.answer
        got = task.read(turn.answer, codec, scene.size, vocabulary)
        assert close(got, turn.expected, tolerance(scene.size)), (turn, got)
    assert turns >= len(scenes) // 4  # every task finds questions in most scenes


@pytest.mark.parametrize("name", sorted(TASKS))
def test_names_and_templates(name):
    task = TASKS[name]
    assert task.name == name
    assert task.templates
    assert len(set(task.templates)) == len(task.templates)


@pytest.mark.parametrize(
    "name",
    [
        "unknown",  # never registered
        "",  # empty
        "LocPred",  # names are case-sensitive
    ],
)
def test_get_task_unknown(name):
    with pytest.raises(ValueError, match="unknown task"):
        get_task(name)


@pytest.mark.parametrize("name", sorted(TASKS))
@settings(max_examples=40)
@given(text=MODEL_TEXT)
def test_read_never_raises(name, text):
    TASKS[name].read(text, IVB, (320, 200), ("red circle", "blue square"))


def test_the_benchmarked_tasks_judge_and_the_others_say_so() -> None:
    judged = {name for name, task in TASKS.items() if task.judges}
    assert judged == {
        "locpred", "negpred", "exists", "revloc", "region", "region_plain", "counting", "detect",
        *(f"spatial_{k}{e}" for k in ("yes_no", "side", "category") for e in ("", "_evidence")),
    }  # fmt: skip
    with pytest.raises(NotImplementedError, match="caption"):
        TASKS["caption"].judge("two red circles", {}, get_codec("ivb"), (64, 64))


@pytest.mark.parametrize(
    ("name", "args", "want"),
    [
        ("locpred", {"phrase": "red circle"}, "Where is the red circle?"),  # grounding
        ("negpred", {"phrase": "red circle"}, "Where is the red circle?"),  # same question
        ("exists", {"phrase": "red circle"}, "Is there a red circle in the image?"),  # POPE
        ("revloc", {"box": [0, 0, 32, 32]}, "What is at [0, 0, 16, 16]?"),  # box as a list
        ("counting", {"phrase": "red circle"}, "How many red circles are there?"),  # plural
        ("detect", {}, "List every object."),  # no categories: everything
        ("spatial_side", {"subject": "a", "reference": "b"}, "Which side of the b is the a?"),
    ],
)
def test_prompts_come_from_the_task(name: str, args: dict[str, object], want: str) -> None:
    assert TASKS[name].prompt(args, get_codec("ivb", bins=32), (64, 64)) == want
