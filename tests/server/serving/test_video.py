"""Tracking and motion answers over clips, with an oracle that grounds every frame exactly.

The oracle knows each rendered frame (by its prepared pixels) and answers LocPred
questions with the true boxes, so what is tested is the linking and the reasoning, not
a model.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from PIL import Image

from locvlm.data.clips import render_clip
from locvlm.data.shapes import CATEGORIES, SceneObject, ShapesConfig, task_scene
from locvlm.engines.base import GenerationRequest, GenerationResult
from locvlm.model.sidecar import Sidecar
from locvlm.serving.context import ServingContext
from locvlm.serving.video import answer_motion, link, track
from locvlm.tasks import motion
from locvlm.tasks.locpred import absent_answer, answer
from locvlm.tasks.motion import Clip
from locvlm_client import Box
from tests.server.engines.scripted import ScriptedEngine

SIDECAR = Sidecar(codec={"name": "ivb", "bins": 32}, preset="tiny", image_size=64,
                  vocabulary=list(CATEGORIES))  # fmt: skip


class _ClipOracle(ScriptedEngine):
    """Grounds each phrase in each known frame with its true boxes."""

    def __init__(self, frames: Sequence[Image.Image], objects: Sequence[Sequence[SceneObject]]):
        super().__init__(SIDECAR)
        ctx = ServingContext(self, SIDECAR)
        self.truth = {ctx.adapter.prepare(f).tobytes(): (f.size, objs)
                      for f, objs in zip(frames, objects, strict=True)}  # fmt: skip
        self.codec = ctx.codec

    def _answer(self, request: GenerationRequest) -> str:
        size, objects = self.truth[request.image.tobytes()]
        phrase = max((c for c in CATEGORIES if c in request.question), key=len)
        boxes = [o.box for o in objects if o.category == phrase]
        return answer(boxes, self.codec, size) if boxes else absent_answer(phrase)

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        return [GenerationResult(self._answer(r), 5, 5) for r in requests]


def _clip(seed: int, size: tuple[int, int] = (200, 140)):
    frames, objects = render_clip((seed, 3), 12, ShapesConfig(size=size, max_objects=3))
    return frames, objects, ServingContext(_ClipOracle(frames, objects), SIDECAR)


def test_link_follows_two_objects_that_swap_sides_of_the_list() -> None:
    a = [Box(x1=10 + 5 * t, y1=10, x2=20 + 5 * t, y2=20) for t in range(6)]
    b = [Box(x1=60 - 5 * t, y1=12, x2=70 - 5 * t, y2=22) for t in range(6)]
    frames = [[a[t], b[t]] if t < 3 else [b[t], a[t]] for t in range(6)]  # order flips
    assert link(frames) == [a, b]


def test_link_keeps_a_track_through_a_missed_frame_and_starts_new_ones() -> None:
    a = [Box(x1=10 + 4 * t, y1=10, x2=20 + 4 * t, y2=20) for t in range(4)]
    far = Box(x1=150, y1=150, x2=160, y2=160)
    frames = [[a[0]], [], [a[2]], [a[3], far]]
    assert link(frames) == [[a[0], None, a[2], a[3]], [None, None, None, far]]


@pytest.mark.anyio
async def test_tracks_match_the_truth_frame_by_frame() -> None:
    frames, objects, ctx = _clip(1)
    phrases = sorted({o.category for o in objects[0]})
    out = await track(ctx, frames, phrases)
    assert out.frames == len(frames)
    assert len({t.id for t in out.tracks}) == len(out.tracks)
    for phrase in phrases:
        truth = [[o for o in objs if o.category == phrase] for objs in objects]
        if any(len(t) != 1 for t in truth):
            continue  # repeated categories: tracks are checked by link's own tests
        [mine] = [t for t in out.tracks if t.label == phrase]
        for box, [obj] in zip(mine.boxes, truth, strict=True):
            assert box is not None
            assert box.iou(obj.box) > 0.5


@pytest.mark.anyio
async def test_normalized_tracks_are_the_pixel_ones_scaled() -> None:
    frames, objects, ctx = _clip(2)
    phrase = objects[0][0].category
    pixel = await track(ctx, frames, [phrase])
    normal = await track(ctx, frames, [phrase], coords="normalized")
    w, h = frames[0].size
    p, n = pixel.tracks[0].boxes[0], normal.tracks[0].boxes[0]
    assert p is not None
    assert n is not None
    assert n.x2 == pytest.approx(p.x2 / w)
    assert n.y1 == pytest.approx(p.y1 / h)


@pytest.mark.anyio
async def test_motion_answers_are_those_of_the_truth() -> None:
    asked = right = 0
    rng = random.Random(0)
    for seed in range(40):
        frames, objects, ctx = _clip(100 + seed)
        scenes = [task_scene(f.size, objs) for f, objs in zip(frames, objects, strict=True)]
        turn = motion.MotionTask().sample(Clip.of(scenes), ctx.codec, rng, CATEGORIES)
        if turn is None:
            continue
        said = await answer_motion(ctx, frames, turn.prompt)
        asked += 1
        right += motion.parse(said.answer) == turn.expected
        assert said.tracks  # the evidence
    assert asked >= 12
    assert right == asked


@pytest.mark.anyio
async def test_a_question_that_is_no_motion_question_is_told_what_to_ask() -> None:
    frames, _, ctx = _clip(3)
    said = await answer_motion(ctx, frames, "What colour is the sky?")
    assert said.answer_type == "free"
    assert "which way" in said.answer.lower()


@pytest.mark.anyio
async def test_an_absent_object_is_said_to_be_absent() -> None:
    frames, objects, ctx = _clip(4)
    present = {o.category for objs in objects for o in objs}
    missing = next(c for c in CATEGORIES if c not in present)
    said = await answer_motion(ctx, frames, f"Which way does the {missing} move?")
    assert said.answer == f"There is no {missing} in the clip."
