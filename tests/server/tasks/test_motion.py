import random

import pytest

from locvlm.coords import get_codec
from locvlm.coords.relations import Relation
from locvlm.tasks import Scene, get_task
from locvlm.tasks.motion import (
    DIRECTION_TEMPLATES,
    END_TEMPLATES,
    Clip,
    Direction,
    answer,
    direction,
    direction_prompt,
    end_prompt,
    parse,
    prompt_for,
)
from locvlm_client import Box

from .conftest import build_scene

IVB = get_codec("ivb")
SIZE = (100, 100)


def _track(*corners: tuple[int, int], side: int = 10) -> list[Box]:
    return [Box.from_xywh((x, y, side, side)) for x, y in corners]


@pytest.mark.parametrize(
    ("track", "want"),
    [
        (_track((0, 40), (10, 41), (20, 40), (30, 42)), Direction.RIGHT),  # steady, tiny wobble
        (_track((80, 40), (60, 40), (40, 40)), Direction.LEFT),  # fast
        (_track((40, 80), (40, 70), (41, 60)), Direction.UP),  # up is y decreasing
        (_track((40, 0), (40, 10), (40, 20)), Direction.DOWN),  # down
        (_track((0, 0), (10, 10), (20, 20)), None),  # diagonal: no axis dominates
        (_track((0, 40), (20, 40), (10, 40), (30, 40)), None),  # bounced back on x
        (_track((0, 40), (4, 40), (8, 40)), None),  # 8 px < 10% of 100: not moving
        (_track((40, 40), (40, 40)), None),  # still
        (_track((40, 40)), None),  # one frame
        (_track((0, 40), (6, 47), (12, 40), (18, 47)), None),  # zigzag across: travel counts
    ],
)
def test_direction(track, want):
    assert direction(track, SIZE) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("left", Direction.LEFT),  # our answer
        ("It moves up.", Direction.UP),  # a sentence
        ("Yes", True),  # yes/no answer
        ("no, it does not", False),  # no
        ("It ends up left of the cup", Direction.LEFT),  # "ends up" is no direction
        ("downwards", None),  # not a whole word we know
        ("", None),  # empty
        ("sideways", None),  # no answer word
    ],
)
def test_parse(text, want):
    assert parse(text) == want


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Direction.DOWN, "down"),  # a direction
        (True, "yes"),  # yes
        (False, "no"),  # no
    ],
)
def test_answer_round_trips(value, text):
    assert answer(value) == text
    assert parse(text) == value


def test_prompts():
    assert direction_prompt("red circle") == "Which way does the red circle move?"
    assert end_prompt("cup", Relation.LEFT_OF, "dog") == "Does the cup end up left of the dog?"
    assert prompt_for({"phrase": "cup"}) == direction_prompt("cup")
    args = {"subject": "cup", "relation": "right of", "reference": "dog"}
    assert prompt_for(args) == end_prompt("cup", Relation.RIGHT_OF, "dog")
    with pytest.raises(KeyError):
        prompt_for({"subject": "cup"})


def _frames(*xs: int) -> list[Scene]:
    """A red circle moving along x, a blue square still at the bottom right."""
    return [build_scene(("red circle", (x, 10, x + 10, 20)), ("blue square", (80, 80, 95, 95)))
            for x in xs]  # fmt: skip


def test_clip_is_its_last_frame_and_tracks_by_category():
    frames = _frames(0, 20, 40)
    clip = Clip.of(frames)
    assert clip.objects == frames[-1].objects
    assert clip.size == frames[-1].size
    assert clip.track("red circle") == tuple(
        Box.from_xyxy((x, 10, x + 10, 20)) for x in (0, 20, 40)
    )
    assert clip.track("green diamond") is None


@pytest.mark.parametrize(
    "frames",
    [
        [
            build_scene(("red circle", (0, 0, 10, 10))),
            build_scene(("blue square", (0, 0, 9, 9))),
        ],  # gone
        [build_scene(("red circle", (0, 0, 9, 9)), ("red circle", (50, 50, 60, 60)))],  # twice
    ],
)
def test_track_needs_one_instance_in_every_frame(frames):
    assert Clip.of(frames).track("red circle") is None


def test_clip_needs_frames():
    with pytest.raises(ValueError, match="at least one frame"):
        Clip.of([])


def test_sample_on_a_clip_asks_both_kinds_and_reads_back():
    clip = Clip.of(_frames(0, 20, 40, 60))
    task = get_task("motion")
    turns = [task.sample(clip, IVB, random.Random(seed), ()) for seed in range(40)]
    assert all(t is not None for t in turns)
    directions = [t for t in turns if t.prompt.startswith(DIRECTION_TEMPLATES[0][:9])]
    assert {t.expected for t in turns if isinstance(t.expected, Direction)} == {Direction.RIGHT}
    assert directions
    assert any(isinstance(t.expected, bool) for t in turns)
    for turn in turns:
        assert task.read(turn.answer, IVB, clip.size) == turn.expected


def test_sample_on_a_still_scene_asks_where_it_ends_up():
    scene = _frames(0)[0]
    task = get_task("motion")
    for seed in range(20):
        turn = task.sample(scene, IVB, random.Random(seed), ())
        assert turn is not None
        assert isinstance(turn.expected, bool)
        assert any(turn.prompt.startswith(t.split("{")[0]) for t in END_TEMPLATES)


def test_sample_without_a_pair_or_motion_is_none():
    lonely = Clip.of([build_scene(("red circle", (0, 0, 10, 10)))] * 3)
    assert get_task("motion").sample(lonely, IVB, random.Random(0), ()) is None
