"""`POST /v1/video/track` and `/v1/video/ask`: ground every frame, link, then reason.

Tracking grounds each phrase in every frame (all frames in one batch of engine calls)
and links each phrase's boxes frame to frame by the assignment of least centre distance
(`scipy.optimize.linear_sum_assignment`), in units of the boxes' size: an object moves
at most a few of its own widths between frames. A box no track can take starts a track;
a track missed in a frame keeps its last box for the next ones.

Motion questions are answered by localize-then-reason, as the paper's video half does:
the objects the question names are tracked, and the answer is computed from the
tracks (`tasks.motion.direction`, `coords.relations` on the last frame), returned with
them as evidence.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from PIL import Image
from scipy.optimize import linear_sum_assignment

from locvlm.coords.relations import relation
from locvlm.serving.context import ServingContext
from locvlm.serving.ground import ground
from locvlm.serving.space import in_space
from locvlm.serving.together import together
from locvlm.tasks import motion
from locvlm.tasks._text import yes_or_no
from locvlm.tasks.classify import classify_motion
from locvlm_client import Box, CoordSpace, ImageSize, Track, VideoAskResponse, VideoTrackResponse

__all__ = ["MAX_JUMP", "answer_motion", "link", "track"]

MAX_JUMP = 2.0
"""Farthest a linked box's centre moves between frames, in units of its mean side."""


def link(frames: Sequence[Sequence[Box]], max_jump: float = MAX_JUMP) -> list[list[Box | None]]:
    """Boxes per frame (of one phrase) as tracks: each a box or None per frame.

    Tracks are ordered by their first frame, then by reading order there.
    """
    tracks: list[list[Box | None]] = []
    last: list[Box] = []  # each track's latest box
    for t, boxes in enumerate(frames):
        taken: dict[int, int] = {}  # box index -> track index
        if last and boxes:
            cost = np.array([[_jump(a, b) for b in boxes] for a in last])
            rows, cols = linear_sum_assignment(cost)
            taken = {int(c): int(r) for r, c in zip(rows, cols, strict=True)
                     if cost[r, c] <= max_jump}  # fmt: skip
        for track in tracks:
            track.append(None)
        for k, box in enumerate(boxes):
            if k in taken:
                tracks[taken[k]][t] = box
                last[taken[k]] = box
            else:
                tracks.append([None] * t + [box])
                last.append(box)
    return tracks


def _jump(a: Box, b: Box) -> float:
    (ax, ay), (bx, by) = a.center, b.center
    side = (a.width + a.height + b.width + b.height) / 4
    return float(np.hypot(ax - bx, ay - by) / max(side, 1.0))


async def _tracks(
    ctx: ServingContext, frames: Sequence[Image.Image], phrases: Sequence[str]
) -> tuple[list[Track], list[str]]:
    """Tracks of `phrases` in pixels, ids from 1; and the warnings of unknown phrases."""
    answers = await together(*(ground(ctx, frame, phrases) for frame in frames))
    ids = itertools.count(1)
    tracks: list[Track] = []
    warnings: list[str] = []
    for phrase in dict.fromkeys(phrases):
        index = list(phrases).index(phrase)
        per_frame = [answer.results[index].boxes for answer in answers]
        warning = answers[0].results[index].warning if answers else None
        if warning:
            warnings.append(warning)
        tracks.extend(Track(id=next(ids), label=phrase, boxes=boxes) for boxes in link(per_frame))
    return tracks, warnings


def _in_space(tracks: Sequence[Track], size: tuple[int, int], coords: CoordSpace) -> list[Track]:
    if coords == "pixel":
        return list(tracks)
    return [
        t.model_copy(update={"boxes": [b and in_space(b, size, coords) for b in t.boxes]})
        for t in tracks
    ]


async def track(
    ctx: ServingContext,
    frames: Sequence[Image.Image],
    phrases: Sequence[str],
    coords: CoordSpace = "pixel",
) -> VideoTrackResponse:
    """Every phrase tracked through `frames` (one size), boxes per frame in `coords`."""
    ctx.adapter.require("ground")
    size = frames[0].size
    found, warnings = await _tracks(ctx, frames, phrases)
    return VideoTrackResponse(
        image_size=ImageSize(width=size[0], height=size[1]), frames=len(frames),
        tracks=_in_space(found, size, coords), warnings=warnings,
    )  # fmt: skip


def _main(tracks: Sequence[Track], label: str) -> Track | None:
    """The track of `label` seen in the most frames (the earliest on a tie)."""
    mine = [t for t in tracks if t.label == label]
    return max(mine, key=lambda t: len(t.frames), default=None)


async def answer_motion(
    ctx: ServingContext,
    frames: Sequence[Image.Image],
    question: str,
    coords: CoordSpace = "pixel",
) -> VideoAskResponse:
    """Which way an object moves, or where it ends up; the tracks as the evidence."""
    ctx.adapter.require("ground")
    q = classify_motion(question)
    if q.answer_type == "free" or q.subject is None:
        return VideoAskResponse(
            answer="Ask which way an object moves, or where it ends up relative to another "
            "(e.g. 'Which way does the red circle move?').",
            answer_type="free",
        )
    named = [q.subject] + ([q.reference] if q.reference else [])
    size = frames[0].size
    found, warnings = await _tracks(ctx, frames, named)
    if warnings:
        return VideoAskResponse(answer="; ".join(warnings), answer_type="free",
                                warning="; ".join(warnings))  # fmt: skip
    main = [_main(found, name) for name in named]
    seen = [t for t in main if t is not None]
    evidence = _in_space(seen, size, coords)
    if len(seen) < len(named):
        missing = " or ".join(n for n, t in zip(named, main, strict=True) if t is None)
        return VideoAskResponse(answer=f"There is no {missing} in the clip.", answer_type="free",
                                tracks=evidence)  # fmt: skip
    if q.answer_type == "direction":
        boxes = [b for b in seen[0].boxes if b is not None]
        way = motion.direction(boxes, size) if len(boxes) > 1 else None
        said = "not clearly one way" if way is None else motion.answer(way)
        return VideoAskResponse(answer=said, answer_type="direction" if way else "free",
                                tracks=evidence)  # fmt: skip
    subject, reference = (t.boxes[-1] for t in seen)
    if subject is None or reference is None or q.relation is None:
        return VideoAskResponse(answer="Both objects are not in the last frame.",
                                answer_type="free", tracks=evidence)  # fmt: skip
    holds = relation(subject, reference, q.relation)
    if holds is None:
        return VideoAskResponse(
            answer=f"Neither: they overlap {q.relation.axis.value}ly in the last frame.",
            answer_type="free", tracks=evidence,
        )  # fmt: skip
    return VideoAskResponse(answer=yes_or_no(holds), answer_type="yes_no", tracks=evidence)
