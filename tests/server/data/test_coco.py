import json
from pathlib import Path

import pytest

from locvlm.data.coco import (
    CocoAnnotation,
    CocoCategory,
    CocoFormatError,
    CocoImage,
    load_coco,
    write_coco,
)
from locvlm_client import Box

VALID = {
    "images": [{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480}],
    "categories": [{"id": 3, "name": "cup"}, {"id": 5, "name": "laptop"}],
    "annotations": [
        {"id": 10, "image_id": 1, "category_id": 3, "bbox": [10, 20, 30, 40], "area": 1200},
        {"id": 11, "image_id": 1, "category_id": 5, "bbox": [600, 400, 100, 100]},
        {"id": 12, "image_id": 1, "category_id": 5, "bbox": [0, 0, 5, 5], "iscrowd": 1},
    ],
}


def _write(tmp_path: Path, body: object) -> Path:
    path = tmp_path / "instances.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


def test_records_are_typed_clipped_and_skip_crowds(tmp_path: Path) -> None:
    dataset = load_coco(_write(tmp_path, VALID))
    (record,) = dataset.records()
    assert record.size == (640, 480)
    assert record.objects == (
        ("cup", Box(x1=10, y1=20, x2=40, y2=60)),
        ("laptop", Box(x1=600, y1=400, x2=640, y2=480)),  # clipped to the image
    )
    assert dataset.category_names() == ["cup", "laptop"]


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    src = load_coco(_write(tmp_path, VALID))
    out = tmp_path / "out" / "annotations.json"
    write_coco(out, src.images, src.categories, src.annotations, extra={"videos": []})
    again = load_coco(out)
    assert list(again.records()) == list(src.records())
    assert json.loads(out.read_text())["videos"] == []
    assert [p.name for p in out.parent.iterdir()] == ["annotations.json"]  # no temp left


def _broken(section: str, index: int, **change: object) -> dict[str, object]:
    body = json.loads(json.dumps(VALID))
    body[section][index].update(change)
    return body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not valid JSON"),  # broken JSON
        ("[]", "top level must be an object"),  # a list
        ({"images": []}, "categories"),  # a section missing
        (
            _broken("annotations", 1, bbox=[1, 2, 3]),
            r"annotations\.1\.bbox.*\(id 11\)",
        ),  # 3 numbers
        (_broken("images", 0, width=0), r"images\.0\.width \(id 1\)"),  # zero width
        (
            _broken("annotations", 0, image_id=99),
            r"annotations\.0 \(id 10\): image_id 99",
        ),  # dangling
        (_broken("annotations", 0, category_id=4), "category_id 4 is not in categories"),  # unknown
        (_broken("annotations", 0, bbox=[1, 1, -3, 4]), "negative width"),  # negative size
        (_broken("categories", 1, id=3), "duplicate category ids"),  # duplicate id
    ],
)
def test_malformed_files_name_file_record_and_reason(
    tmp_path: Path, body: object, message: str
) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(CocoFormatError, match=message) as info:
        load_coco(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CocoFormatError, match="file not found"):
        load_coco(tmp_path / "nope.json")


def test_written_file_loads_in_pycocotools(tmp_path: Path) -> None:
    coco_mod = pytest.importorskip("pycocotools.coco")
    out = tmp_path / "a.json"
    write_coco(
        out,
        [CocoImage(id=1, file_name="x.png", width=10, height=10)],
        [CocoCategory(id=1, name="red circle")],
        [CocoAnnotation(id=1, image_id=1, category_id=1, bbox=(1, 1, 2, 2), area=4)],
    )
    coco = coco_mod.COCO(str(out))
    assert coco.loadAnns(coco.getAnnIds(imgIds=[1]))[0]["bbox"] == [1, 1, 2, 2]
