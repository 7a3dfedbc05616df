import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from locvlm.data.coco import load_coco
from locvlm.data.shapes import ShapesConfig
from locvlm.data.shapes_writer import write_clips_dataset, write_shapes_dataset


def test_dataset_boxes_match_the_saved_pixels(tmp_path: Path) -> None:
    out = write_shapes_dataset(tmp_path / "d", 30, seed=1, config=ShapesConfig(size=None))
    dataset = load_coco(out / "annotations.json")
    assert len(dataset.images) == 30
    for record in dataset.records():
        pixels = np.asarray(Image.open(out / record.file_name).convert("RGB"))
        assert pixels.shape[:2] == (record.height, record.width)
        drawn = pixels.min(axis=2) < 136
        for _, box in record.objects:
            x1, y1, x2, y2 = (int(v) for v in box.to_xyxy())
            ys, xs = np.nonzero(drawn[y1:y2, x1:x2])
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (0, 0, x2 - x1, y2 - y1)


def test_same_seed_same_files(tmp_path: Path) -> None:
    a = write_shapes_dataset(tmp_path / "a", 5, seed=3)
    b = write_shapes_dataset(tmp_path / "b", 5, seed=3)
    assert (a / "annotations.json").read_text() == (b / "annotations.json").read_text()
    assert (a / "images/000004.png").read_bytes() == (b / "images/000004.png").read_bytes()


def test_failure_leaves_nothing_behind(tmp_path: Path) -> None:
    def boom(_: int) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_shapes_dataset(tmp_path / "d", 5, seed=1, progress=boom)
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        write_shapes_dataset(tmp_path / "d", 2, seed=1)
    assert (tmp_path / "d" / "keep.txt").read_text() == "mine"


def test_clips_dataset_layout(tmp_path: Path) -> None:
    out = write_clips_dataset(tmp_path / "c", 2, seed=1, n_frames=8, video=True)
    body = json.loads((out / "annotations.json").read_text())
    assert [v["n_frames"] for v in body["videos"]] == [8, 8]
    assert all((out / v["file_name"]).stat().st_size > 0 for v in body["videos"])
    frames = [i for i in body["images"] if i["video_id"] == 1]
    assert [f["frame_index"] for f in frames] == list(range(8))
    assert {a["track_id"] for a in body["annotations"]} >= {0}
    assert len(load_coco(out / "annotations.json").images) == 16
