"""Shared datasets: the hand-made real-COCO-format fixture, a shapes set, a clips set.

`coco_tiny` (tests/fixtures/coco_tiny) holds five images with hand-chosen boxes and real
COCO category ids: desk (person, laptop, two cups), park (dog and person overlapping
on x), crowd (a crowd region of people, a dog, a cup), table (laptop, cup, bottle),
touch (cup and laptop whose boxes touch on x). chair is never annotated.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from locvlm.data.coco import CocoDataset, ImageRecord, load_coco
from locvlm.data.shapes_writer import write_clips_dataset, write_shapes_dataset
from locvlm_client import Box

COCO_TINY = Path(__file__).parents[2] / "fixtures" / "coco_tiny"


@pytest.fixture(scope="session")
def coco_tiny() -> CocoDataset:
    """The hand-made fixture, loaded."""
    return load_coco(COCO_TINY / "annotations.json")


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 shapes scenes at 128 px (seed 1)."""
    return write_shapes_dataset(tmp_path_factory.mktemp("shapes") / "D", 60, seed=1)


@pytest.fixture(scope="session")
def shapes(shapes_dir: Path) -> CocoDataset:
    """The shapes dataset, loaded."""
    return load_coco(shapes_dir / "annotations.json")


@pytest.fixture(scope="session")
def clips_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six moving-shapes clips of 16 frames (seed 3)."""
    return write_clips_dataset(tmp_path_factory.mktemp("clips") / "C", 6, seed=3, n_frames=16)


def _record(image_id: int, size: tuple[int, int], *objects: tuple[str, tuple]) -> ImageRecord:
    boxes = tuple((category, Box.from_xyxy(xyxy)) for category, xyxy in objects)
    return ImageRecord(image_id, f"{image_id}.png", size[0], size[1], boxes)


@pytest.fixture
def make_record():
    """Build a record from `(image_id, (w, h), (category, (x1, y1, x2, y2)), ...)`."""
    return _record
