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
