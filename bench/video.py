"""Motion questions and tracking through the API, on held-out clips.

    python bench/video.py [--clips 40] [--frames 16] [--seed 727272] [--out bench/results/video]

Starts `locvlm serve` with the shipped model and draws clips of a seed never used in
training (`data.clips.render_clip`, every size and aspect of the contract). Per clip:
- tracking: `/v1/video/track` with the clip's categories. Each true object is matched to
  the returned track of its category that matches it (IoU > 0.5) in the most frames; a
  frame counts when that one track's box there matches the truth: ID-consistent
  Acc@0.5, over every object in every frame. Single-frame grounding of the same boxes
  (any track of the category) is reported beside it.
- motion: every clearly one-way mover is asked "Which way does the X move?", and every
  pair of single objects apart on x in the last frame "Does the X end up left of the Y?"
  (`tasks.motion`'s rules), through `/v1/video/ask`, against the truth.
Targets (issue 21): motion accuracy >= 0.95 and tracking >= 0.95, once single-image
grounding is >= 0.95.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _load import free_port
from _report import save
from _server import Server

from locvlm.coords.relations import Relation, relation
from locvlm.data.clips import render_clip
from locvlm.data.shapes import ShapesConfig, task_scene
from locvlm.tasks.motion import Clip, direction, direction_prompt, end_prompt
from locvlm_client import Box, Client, VideoTrackResponse

TARGET = 0.95


def held_out(n: int, frames: int, seed: int) -> list[tuple[bytes, Clip]]:
    """`n` clips of `frames` frames at random contract sizes, with their truth.

    Each is one lossless animated WebP file, as a user would send it (the frames as PNGs
    can pass the 10 MB body limit at 1024 px).
    """
    out = []
    for i in range(n):
        images, tracks = render_clip((seed, i), frames, ShapesConfig(size=None))
        webp = io.BytesIO()
        images[0].save(webp, format="WEBP", save_all=True, append_images=images[1:],
                       duration=100, loop=0, lossless=True)  # fmt: skip
        out.append((webp.getvalue(), Clip.of([task_scene(images[0].size, t) for t in tracks])))
    return out


def questions(clip: Clip) -> list[tuple[str, str]]:
    """(question, expected answer) for the clip, canonical wording."""
    asked = []
    for category in clip.categories:
        track = clip.track(category)
        way = direction(track, clip.size) if track else None
        if way is not None:
            asked.append((direction_prompt(category), way.value))
    for a in clip.singles:
        for b in clip.singles:
            rel = relation(a.box, b.box, Relation.LEFT_OF) if a is not b else None
            if rel is not None:
                asked.append((end_prompt(a.category, Relation.LEFT_OF, b.category),
                              "yes" if rel else "no"))  # fmt: skip
    return asked


def tracking(found: VideoTrackResponse, clip: Clip) -> tuple[int, int, int]:
    """(frames right with one track, frames right with any track, object-frames)."""
    consistent = anywhere = total = 0
    for k, obj in enumerate(clip.frames[0].objects):
        truth = [frame.objects[k].box for frame in clip.frames]
        mine = [t for t in found.tracks if t.label == obj.category]

        def hits(boxes: Sequence[Box | None], truth: Sequence[Box] = truth) -> list[bool]:
            return [b is not None and b.iou(t) > 0.5 for b, t in zip(boxes, truth, strict=True)]

        per_track = [hits(t.boxes) for t in mine]
        best = max((sum(h) for h in per_track), default=0)
        consistent += best
        anywhere += sum(any(col) for col in zip(*per_track, strict=True)) if per_track else 0
        total += len(truth)
    return consistent, anywhere, total


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """Every clip through both endpoints; the totals and a few misses."""
    clips = held_out(args.clips, args.frames, args.seed)
    consistent = anywhere = total = right = asked = 0
    misses: list[dict[str, str]] = []
    with Client(base_url=url, timeout=600) as client:
        for video, clip in clips:
            found = client.track(video, list(clip.frames[0].categories))
            c, a, t = tracking(found, clip)
            consistent, anywhere, total = consistent + c, anywhere + a, total + t
            for question, expected in questions(clip):
                said = client.ask_video(video, question).answer
                right += said == expected
                asked += 1
                if said != expected and len(misses) < 20:
                    misses.append({"question": question, "expected": expected, "said": said})
    return {
        "clips": len(clips), "object_frames": total, "questions": asked,
        "tracking_id_consistent": round(consistent / max(total, 1), 4),
        "grounding_per_frame": round(anywhere / max(total, 1), 4),
        "motion_accuracy": round(right / max(asked, 1), 4), "misses": misses,
    }  # fmt: skip


def markdown(report: dict[str, Any]) -> str:
    """The headline figures as a table."""
    met = {k: report[k] >= TARGET for k in ("tracking_id_consistent", "motion_accuracy")}
    return "\n".join([
        f"# Video through the API ({report['clips']} clips x {report['frames']} frames, "
        f"seed {report['seed']}, {report['machine']})", "",
        "| measure | value | target |", "|---|---|---|",
        f"| tracking, ID-consistent Acc@0.5 ({report['object_frames']} object-frames) "
        f"| {report['tracking_id_consistent']:.3f} | >= {TARGET} "
        f"({'met' if met['tracking_id_consistent'] else 'NOT met'}) |",
        f"| grounding per frame, any track | {report['grounding_per_frame']:.3f} | |",
        f"| motion questions ({report['questions']}) | {report['motion_accuracy']:.3f} "
        f"| >= {TARGET} ({'met' if met['motion_accuracy'] else 'NOT met'}) |", "",
        f"Command: `{report['command']}`", "",
    ])  # fmt: skip


def main() -> None:
    """Parse arguments, serve, run, write JSON and markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--seed", type=int, default=727272, help="never a training seed")
    parser.add_argument("--out", type=Path, default=Path("bench/results/video"))
    args = parser.parse_args()
    port = free_port()
    env = {**os.environ, "LOCVLM_MAX_VIDEO_FRAMES": "64"}
    server = Server("video", [sys.executable, "-m", "locvlm", "serve", "--port", str(port)],
                    env, port, timeout=300)  # fmt: skip
    try:
        report = run(args, server.url)
    finally:
        server.stop()
    report = {"command": "python bench/video.py " + shlex.join(sys.argv[1:]),
              "machine": f"{platform.machine()} {os.cpu_count()} cores", "frames": args.frames,
              "seed": args.seed, **report}  # fmt: skip
    save(args.out, report, markdown)


if __name__ == "__main__":
    main()
