"""What instruction and benchmark rows share: records as scenes, image paths, JSONL files."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from locvlm.data._atomic import atomic_write
from locvlm.data.coco import ImageRecord
from locvlm.tasks import Obj, Scene
from locvlm_client import Box

__all__ = ["Row", "box_list", "image_path", "to_scene", "write_jsonl"]

Row = dict[str, Any]
"""One JSON line."""


def to_scene(record: ImageRecord) -> Scene:
    """The record's size and objects as the `Scene` the task modules ask about."""
    objects = tuple(Obj(category=category, box=box) for category, box in record.objects)
    return Scene(size=record.size, objects=objects)


def image_path(file_name: str, root: str | Path | None = None) -> str:
    """`file_name` as the dataset gives it, joined to `root` when there is one."""
    return file_name if root is None else str(Path(root) / file_name)


def box_list(box: Box) -> list[float | int]:
    """`[x1, y1, x2, y2]` for JSON, whole numbers written without a fraction."""
    return [int(v) if float(v).is_integer() else round(v, 3) for v in box.to_xyxy()]


def write_jsonl(rows: Iterable[Mapping[str, Any]], path: str | Path) -> int:
    """Write one JSON object per line, atomically; returns the number of rows.

    A failure part way leaves `path` as it was (see `atomic_write`).
    """
    count = 0
    with atomic_write(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count
