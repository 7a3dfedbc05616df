import json
from collections import defaultdict
from pathlib import Path

import pytest

from locvlm.coords.relations import Axis, Relation, relation_on_axis
from locvlm.data.bench_motion import clip_frames
from locvlm.data.benchmarks import BenchOptions, build_benchmarks
from locvlm.data.coco import load_coco
from locvlm.data.instructions import to_scene
from locvlm.tasks.motion import Clip, direction

CATEGORIES = [{"id": 1, "name": "red circle"}, {"id": 2, "name": "blue square"}]


def _hand_made_clip(tmp_path: Path) -> Path:
    """One clip of 8 frames, listed out of order: a red circle moving right, a still square."""
    images, annotations = [], []
    for t in reversed(range(8)):
        name = f"clips/000007/frame_{t:03d}.png"
        images.append({"id": t, "file_name": name, "width": 100, "height": 100,
                       "video_id": 7, "frame_index": t})  # fmt: skip
        for k, (category, box) in enumerate(((1, [5 * t, 10, 10, 10]), (2, [80, 80, 10, 10]))):
            annotations.append({"id": 10 * t + k, "image_id": t, "category_id": category,
                                "bbox": box, "track_id": k})  # fmt: skip
    body = {"images": images, "annotations": annotations, "categories": CATEGORIES,
            "videos": [{"id": 7, "name": "000007"}]}  # fmt: skip
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(body))
    return path


def test_clip_frames_groups_and_orders(tmp_path):
    dataset = load_coco(_hand_made_clip(tmp_path))
    (frames,) = clip_frames(dataset).values()
    assert [f.file_name for f in frames] == [f"clips/000007/frame_{t:03d}.png" for t in range(8)]


def test_clip_frames_needs_a_clips_dataset(coco_tiny):
    with pytest.raises(ValueError, match=r"annotations\.json: no image has a video_id"):
        clip_frames(coco_tiny)


def test_hand_made_clip(tmp_path):
    dataset = load_coco(_hand_made_clip(tmp_path))
    rows = list(build_benchmarks(dataset, ["motion"], BenchOptions(image_root="root")))
    where = [r for r in rows if r["task"] == "locpred"]
    assert len(where) == 3
    for row in where:
        t = int(row["image"][-7:-4])
        if row["args"]["phrase"] == "red circle":
            assert row["expected"] == {"boxes": [[5 * t, 10, 5 * t + 10, 20]]}
        assert row["image"] == f"root/clips/000007/frame_{t:03d}.png"
    clip_rows = [r for r in rows if r["task"] == "motion"]
    frames = [f"root/clips/000007/frame_{t:03d}.png" for t in range(8)]
    for row in clip_rows:
        assert row["frames"] == frames
        assert "image" not in row
        assert row["size"] == [100, 100]
    ways = [r for r in clip_rows if "phrase" in r["args"]]
    assert [(r["args"], r["expected"]) for r in ways] == [
        ({"phrase": "red circle"}, {"answer": "right"})  # the still square has no direction
    ]
    ends = sorted(
        (r for r in clip_rows if "subject" in r["args"]), key=lambda r: r["args"]["relation"]
    )
    assert len(ends) == 2
    assert ends[0]["group"] == ends[1]["group"]
    subject_left = ends[0]["args"]["subject"] == "red circle"  # "left of" sorts first
    assert [r["expected"]["answer"] for r in ends] == (
        ["yes", "no"] if subject_left else ["no", "yes"]
    )


def test_generated_clips(clips_dir):
    dataset = load_coco(clips_dir / "annotations.json")
    rows = list(build_benchmarks(dataset, ["motion"]))
    per_clip = defaultdict(list)
    for row in rows:
        per_clip[row["id"].split("/")[1]].append(row)
    assert len(per_clip) == 6
    clips = clip_frames(dataset)
    records = {r.id: r for r in dataset.records()}
    for video, members in per_clip.items():
        clip = Clip.of([to_scene(records[f.id]) for f in clips[int(video)]])
        for row in members:
            if row["task"] == "locpred":
                assert row["image"] in {f.file_name for f in clips[int(video)]}
            elif "phrase" in row["args"]:
                track = clip.track(row["args"]["phrase"])
                assert direction(track, clip.size).value == row["expected"]["answer"]
            else:
                _check_end(clip, row)
    assert any("phrase" in r["args"] for r in rows if r["task"] == "motion")


def _check_end(clip: Clip, row) -> None:
    (subject,) = clip.instances(row["args"]["subject"])
    (reference,) = clip.instances(row["args"]["reference"])
    holds = relation_on_axis(subject.box, reference.box, Axis.HORIZONTAL)
    asked = Relation(row["args"]["relation"])
    assert holds is not None  # no horizontal overlap in the last frame
    assert row["expected"]["answer"] == ("yes" if holds is asked else "no")
