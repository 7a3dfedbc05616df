"""COCO-format instance annotations: load any instances file into typed records, write one.

    from locvlm.data.coco import load_coco
    dataset = load_coco("annotations/instances_val2014.json")
    for record in dataset.records():  # image file, size and (category, Box) objects
        ...

Errors name the file, the record and the reason (`CocoFormatError`). Boxes are COCO's
`[x, y, width, height]` in pixels; records carry `Box` (x1, y1, x2, y2) clipped to the
image. Crowd regions (`iscrowd=1`) are not single objects and are left out of records.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from locvlm.data._atomic import atomic_write
from locvlm_client import Box

__all__ = [
    "CocoAnnotation",
    "CocoCategory",
    "CocoDataset",
    "CocoFormatError",
    "CocoImage",
    "ImageRecord",
    "load_coco",
    "write_coco",
]


class CocoFormatError(ValueError):
    """An annotations file that is missing, not JSON, or not COCO instances."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class CocoImage(_Lenient):
    """One `images` entry."""

    id: int
    file_name: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class CocoCategory(_Lenient):
    """One `categories` entry."""

    id: int
    name: str = Field(min_length=1)
    supercategory: str = ""


class CocoAnnotation(_Lenient):
    """One `annotations` entry (instances): `bbox` is `[x, y, width, height]` pixels."""

    id: int
    image_id: int
    category_id: int
    bbox: tuple[float, float, float, float]
    area: float | None = None
    iscrowd: int = 0

    def box(self) -> Box:
        """The bbox as a `Box`; raises ValueError for negative width or height."""
        _, _, w, h = self.bbox
        if w < 0 or h < 0:
            raise ValueError(f"bbox {list(self.bbox)} has a negative width or height")
        return Box.from_xywh(self.bbox)


class _CocoFile(_Lenient):
    images: list[CocoImage]
    annotations: list[CocoAnnotation] = []
    categories: list[CocoCategory]


@dataclass(frozen=True)
class ImageRecord:
    """An image and its objects, ready for the instruction and benchmark builders."""

    id: int
    file_name: str
    width: int
    height: int
    objects: tuple[tuple[str, Box], ...]  # (category name, box in pixels)

    @property
    def size(self) -> tuple[int, int]:
        """`(width, height)`."""
        return self.width, self.height


@dataclass(frozen=True)
class CocoDataset:
    """A validated instances file."""

    images: tuple[CocoImage, ...]
    categories: tuple[CocoCategory, ...]
    annotations: tuple[CocoAnnotation, ...]
    source: str = "<memory>"

    def category_names(self) -> list[str]:
        """Category names in id order."""
        return [c.name for c in sorted(self.categories, key=lambda c: c.id)]

    def records(self) -> Iterator[ImageRecord]:
        """One record per image, in file order; crowd annotations skipped."""
        names = {c.id: c.name for c in self.categories}
        by_image: dict[int, list[tuple[str, Box]]] = defaultdict(list)
        for ann in self.annotations:
            if not ann.iscrowd:
                by_image[ann.image_id].append((names[ann.category_id], ann.box()))
        for img in self.images:
            size = (img.width, img.height)
            objects = tuple((name, box.clip(size)) for name, box in by_image.get(img.id, []))
            yield ImageRecord(img.id, img.file_name, img.width, img.height, objects)


def _fail(source: str, message: str) -> CocoFormatError:
    return CocoFormatError(f"{source}: {message}")


def _describe(source: str, raw: dict[str, object], exc: ValidationError) -> CocoFormatError:
    first = exc.errors()[0]
    loc = first["loc"]
    where = ".".join(str(part) for part in loc)
    if len(loc) >= 2 and isinstance(loc[1], int):
        section = raw.get(str(loc[0]))
        entry = section[loc[1]] if isinstance(section, list) else None
        if isinstance(entry, dict) and "id" in entry:
            where += f" (id {entry['id']})"
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    return _fail(source, f"{where}: {first['msg']}{more}")


def _check_references(data: _CocoFile, source: str) -> None:
    image_ids = {i.id for i in data.images}
    category_ids = {c.id for c in data.categories}
    for what, ids in (
        ("image", [i.id for i in data.images]),
        ("category", [c.id for c in data.categories]),
    ):
        if len(ids) != len(set(ids)):
            raise _fail(source, f"duplicate {what} ids")
    for index, ann in enumerate(data.annotations):
        where = f"annotations.{index} (id {ann.id})"
        if ann.image_id not in image_ids:
            raise _fail(source, f"{where}: image_id {ann.image_id} is not in images")
        if ann.category_id not in category_ids:
            raise _fail(source, f"{where}: category_id {ann.category_id} is not in categories")
        try:
            ann.box()
        except ValueError as exc:
            raise _fail(source, f"{where}: {exc}") from None


def load_coco(path: str | Path) -> CocoDataset:
    """Read and validate a COCO instances file.

    Raises:
        CocoFormatError: naming the file, the record and the reason.
    """
    source = str(path)
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(source, "file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _fail(source, f"not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise _fail(source, "top level must be an object with images/annotations/categories")
    try:
        data = _CocoFile.model_validate(raw)
    except ValidationError as exc:
        raise _describe(source, raw, exc) from None
    _check_references(data, source)
    return CocoDataset(tuple(data.images), tuple(data.categories), tuple(data.annotations), source)


def write_coco(
    path: str | Path,
    images: Sequence[CocoImage],
    categories: Sequence[CocoCategory],
    annotations: Sequence[CocoAnnotation],
    info: dict[str, object] | None = None,
    extra: dict[str, object] | None = None,
) -> None:
    """Write an instances file atomically (a temporary file renamed into place).

    `extra` adds top-level sections beside the standard ones (e.g. `videos`).
    """
    body = {
        **(extra or {}),
        "info": info or {},
        "licenses": [],
        "images": [i.model_dump() for i in images],
        "annotations": [a.model_dump() for a in annotations],
        "categories": [c.model_dump() for c in categories],
    }
    with atomic_write(path) as handle:
        json.dump(body, handle)
