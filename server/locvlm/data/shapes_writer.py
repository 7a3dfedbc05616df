"""Write shapes-world scenes and clips as COCO datasets (`annotations.json` + images).

    locvlm data shapes --n 200 --seed 1 --size 128 --out data/shapes-val
    locvlm data clips --n 20 --frames 16 --seed 1 --out data/clips-val [--video]

Clips use COCO's video convention (as YouTube-VIS/TAO do): every frame is an `images`
entry with `video_id` and `frame_index`, every box an annotation with `track_id`, and a
top-level `videos` list; `--video` also writes each clip as an MP4 (OpenCV).

Scene `i` of seed `S` is drawn from the seed `(S, i)`, so any scene can be redrawn alone
and datasets with different `n` share their first scenes. The whole dataset is written
in a temporary folder and renamed into place: a failure leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from locvlm.data._atomic import atomic_dir
from locvlm.data.clips import render_clip
from locvlm.data.coco import CocoAnnotation, CocoCategory, CocoImage, write_coco
from locvlm.data.shapes import CATEGORIES, SceneObject, ShapesConfig, render_scene

__all__ = ["shapes_categories", "write_clips_dataset", "write_shapes_dataset", "write_video"]


def shapes_categories() -> list[CocoCategory]:
    """The 24 shapes-world categories, ids 1..24, supercategory = the shape."""
    return [
        CocoCategory(id=i, name=name, supercategory=name.split()[1])
        for i, name in enumerate(CATEGORIES, start=1)
    ]


def write_shapes_dataset(
    out: str | Path,
    n: int,
    seed: int,
    config: ShapesConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Draw `n` scenes and write them as a COCO dataset in `out`; return `out`."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    target = Path(out)
    with atomic_dir(target) as tmp:
        (tmp / "images").mkdir()
        images: list[CocoImage] = []
        annotations: list[CocoAnnotation] = []
        for i in range(n):
            image, objects = render_scene((seed, i), config or ShapesConfig())
            name = f"images/{i:06d}.png"
            image.save(tmp / name)
            images.append(CocoImage(id=i, file_name=name, width=image.width, height=image.height))
            annotations += _annotations(objects, i, len(annotations) + 1)
            if progress:
                progress(1)
        info = {"description": "locvlm shapes world v1", "seed": seed, "config": repr(config)}
        write_coco(tmp / "annotations.json", images, shapes_categories(), annotations, info)
    return target


def _annotations(
    objects: list[SceneObject], image_id: int, first_id: int, tracks: bool = False
) -> list[CocoAnnotation]:
    ids = {c.name: c.id for c in shapes_categories()}
    extra = {}
    out = []
    for k, obj in enumerate(objects):
        if tracks:
            extra = {"track_id": k}
        out.append(CocoAnnotation(
            id=first_id + k, image_id=image_id, category_id=ids[obj.category],
            bbox=obj.box.to_xywh(), area=obj.box.area, iscrowd=0, **extra,
        ))  # fmt: skip
    return out


def write_video(path: Path, frames: list[Image.Image], fps: int = 8) -> None:
    """Write `frames` as an MP4 (mp4v, what opencv writes everywhere) at `fps`."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, frames[0].size)
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(np.asarray(frame), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()


def write_clips_dataset(
    out: str | Path,
    n: int,
    seed: int,
    n_frames: int = 16,
    config: ShapesConfig | None = None,
    video: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Draw `n` clips and write their frames (and optional MP4s) with annotations."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    target = Path(out)
    with atomic_dir(target) as tmp:
        images: list[CocoImage] = []
        annotations: list[CocoAnnotation] = []
        videos: list[dict[str, object]] = []
        for v in range(n):
            frames, tracks = render_clip((seed, v), n_frames, config)
            (tmp / "clips" / f"{v:06d}").mkdir(parents=True)
            for t, (frame, objects) in enumerate(zip(frames, tracks, strict=True)):
                name = f"clips/{v:06d}/frame_{t:03d}.png"
                frame.save(tmp / name)
                image_id = len(images)
                images.append(CocoImage(
                    id=image_id, file_name=name, width=frame.width, height=frame.height,
                    video_id=v, frame_index=t,
                ))  # fmt: skip
                annotations += _annotations(objects, image_id, len(annotations) + 1, True)
            entry: dict[str, object] = {"id": v, "name": f"{v:06d}", "n_frames": n_frames}
            if video:
                write_video(tmp / "clips" / f"{v:06d}.mp4", frames)
                entry["file_name"] = f"clips/{v:06d}.mp4"
            videos.append(entry)
            if progress:
                progress(1)
        info = {"description": "locvlm moving shapes v1", "seed": seed, "frames": n_frames}
        write_coco(
            tmp / "annotations.json", images, shapes_categories(), annotations, info,
            extra={"videos": videos},
        )  # fmt: skip
    return target
