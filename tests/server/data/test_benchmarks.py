import json
from collections import Counter, defaultdict

import pytest
from pycocotools.coco import COCO

from locvlm.data.benchmarks import (
    BENCHMARKS,
    BenchOptions,
    build_benchmarks,
    count_units,
    parse_kinds,
)
from locvlm.data.coco import load_coco
from locvlm.tasks import TASKS

from .conftest import COCO_TINY

IMAGE_KINDS = ["leftright", "abovebelow", "pope", "grounding", "region", "counting", "detection"]
FIELDS = ["id", "bench", "task", "image", "size", "hflip", "args", "expected", "group", "split"]


def _rows(dataset, *kinds, **options):
    return list(build_benchmarks(dataset, kinds, BenchOptions(**options)))


def _by_image(rows):
    found = defaultdict(list)
    for row in rows:
        found[row["image"]].append(row)
    return found


def test_schema_of_every_kind(coco_tiny, shapes):
    for dataset in (coco_tiny, shapes):
        rows = _rows(dataset, *IMAGE_KINDS, negatives="popular")
        assert {r["bench"] for r in rows} == set(IMAGE_KINDS)
        assert len({r["id"] for r in rows}) == len(rows)
        for row in rows:
            fields = [*FIELDS[:6], "vflip", *FIELDS[6:]] if row["bench"] == "abovebelow" else FIELDS
            assert list(row) == fields
            assert row["task"] in TASKS
            assert row["id"].startswith(f"{row['bench']}/")
            assert [type(v) for v in row["size"]] == [int, int]
            assert row["group"] is None or isinstance(row["group"], str)
            assert row["split"] in (None, "random", "popular", "adversarial")
            assert json.loads(json.dumps(row)) == row


def test_image_paths_join_the_root(coco_tiny):
    rows = _rows(coco_tiny, "counting", image_root="/data/val2017")
    assert {r["image"] for r in rows} == {
        f"/data/val2017/{name}"
        for name in ("desk.png", "park.png", "crowd.png", "table.png", "touch.png")
    }
    assert {r["image"] for r in _rows(coco_tiny, "counting")} == {
        "desk.png",
        "park.png",
        "crowd.png",
        "table.png",
        "touch.png",
    }


def test_pope_is_balanced_and_asks_absent_categories_only(coco_tiny, shapes):
    for dataset in (coco_tiny, shapes):
        present = {str(r.id): {c for c, _ in r.objects} for r in dataset.records()}
        rows = _rows(dataset, "pope")
        assert {r["split"] for r in rows} == {"random", "popular", "adversarial"}
        balance = Counter()
        for row in rows:
            shown = row["args"]["phrase"] in present[row["id"].split("/")[1]]
            assert row["expected"]["answer"] == ("yes" if shown else "no")
            balance[row["image"], row["split"]] += 1 if shown else -1
        assert set(balance.values()) == {0}


@pytest.mark.parametrize(
    ("split", "image", "want"),
    [
        ("popular", "touch.png", {"person", "dog"}),  # the most frequent absent ones
        ("adversarial", "touch.png", {"person", "bottle"}),  # those that co-occur with cup, laptop
        ("popular", "park.png", {"cup", "laptop"}),  # frequent
        ("adversarial", "crowd.png", {"laptop", "bottle"}),  # never the crowd's person
        ("random", "crowd.png", None),  # any absent one, never the crowd's person
    ],
)
def test_pope_splits(coco_tiny, split, image, want):
    rows = [r for r in _rows(coco_tiny, "pope", negatives=split) if r["image"] == image]
    assert {r["split"] for r in rows} == {split}
    absent = {r["args"]["phrase"] for r in rows if r["expected"]["answer"] == "no"}
    assert len(absent) == len(rows) // 2
    if want is not None:
        assert absent == want
    assert "person" not in absent or image != "crowd.png"


def test_pope_keeps_the_same_positives_across_splits(shapes):
    positives = defaultdict(set)
    for row in _rows(shapes, "pope"):
        if row["expected"]["answer"] == "yes":
            positives[row["image"]].add((row["split"], row["args"]["phrase"]))
    for asked in positives.values():
        per_split = defaultdict(set)
        for split, phrase in asked:
            per_split[split].add(phrase)
        assert len({frozenset(v) for v in per_split.values()}) == 1


def test_grounding_lists_every_instance(coco_tiny):
    rows = _by_image(_rows(coco_tiny, "grounding"))
    desk = {r["args"]["phrase"]: r["expected"]["boxes"] for r in rows["desk.png"]}
    assert desk == {
        "person": [[8, 10, 48, 100]],
        "cup": [[128, 30, 140, 46], [130, 90, 144, 106]],  # both, in reading order
        "laptop": [[70, 50, 120, 85]],
    }
    assert {r["args"]["phrase"] for r in rows["crowd.png"]} == {"dog", "cup"}  # no crowd person
    assert all(r["task"] == "locpred" for image in rows.values() for r in image)


def test_grounding_negatives_are_negpred_rows(coco_tiny):
    rows = _rows(coco_tiny, "grounding", negatives="adversarial")
    present = {str(r.id): {c for c, _ in r.objects} for r in coco_tiny.records()}
    negatives = [r for r in rows if r["task"] == "negpred"]
    assert negatives
    for row in negatives:
        assert row["expected"] == {"boxes": []}
        assert row["split"] == "adversarial"
        assert row["args"]["phrase"] not in present[row["id"].split("/")[1]]
        assert row["id"].endswith("/adversarial")  # each split's file has its own ids
    assert all(r["args"]["phrase"] != "person" for r in negatives if r["image"] == "crowd.png")
    others = {r["id"] for r in _rows(coco_tiny, "grounding", negatives="random")}
    assert not others & {r["id"] for r in rows}  # so the splits evaluate together


def test_region_names_the_box_and_every_valid_relation(coco_tiny):
    rows = _rows(coco_tiny, "region", max_per_image=5)
    contextual = {
        (r["image"], tuple(r["args"]["box"])): r["expected"] for r in rows if r["task"] == "region"
    }
    assert contextual["desk.png", (128, 30, 140, 46)] == {
        "category": "cup",
        "valid": [["right of", "person"], ["right of", "laptop"], ["above", "laptop"]],
    }
    assert contextual["crowd.png", (10, 50, 40, 80)] == {
        "category": "dog",
        "valid": [["left of", "cup"]],
    }
    assert contextual["touch.png", (10, 10, 40, 40)] == {"category": "cup", "valid": []}  # touching
    revloc = [r for r in rows if r["task"] == "revloc"]
    assert len(revloc) == len(contextual) == 13  # every object, the crowd region excepted
    assert all(
        contextual[r["image"], tuple(r["args"]["box"])]["category"] == r["expected"]["category"]
        for r in revloc
    )


@pytest.mark.parametrize(
    ("rate", "zeros"),
    [
        (0.0, 0),  # never an absent category
        (1.0, 5),  # one per image
    ],
)
def test_counting(coco_tiny, rate, zeros):
    rows = _rows(coco_tiny, "counting", absent_rate=rate)
    counts = {(r["image"], r["args"]["phrase"]): r["expected"]["count"] for r in rows}
    assert counts["desk.png", "cup"] == 2
    assert counts["desk.png", "person"] == 1
    assert ("crowd.png", "person") not in counts  # a crowd cannot be counted
    assert sum(c == 0 for c in counts.values()) == zeros


def test_max_per_image(shapes):
    for kind in ("pope", "grounding", "region", "counting"):
        rows = _rows(shapes, kind, max_per_image=1, absent_rate=0.0, negatives="random")
        per_image = Counter(r["image"] for r in rows)
        assert max(per_image.values()) == (1 if kind == "counting" else 2), kind


def test_deterministic_per_seed(shapes):
    first = _rows(shapes, *IMAGE_KINDS, seed=4)
    assert first == _rows(shapes, *IMAGE_KINDS, seed=4)
    assert first != _rows(shapes, *IMAGE_KINDS, seed=5)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("leftright", ["leftright"]),  # one
        (" pope , grounding ", ["pope", "grounding"]),  # spaces
        ("pope,pope,region", ["pope", "region"]),  # repeats dropped
    ],
)
def test_parse_kinds(text, want):
    assert parse_kinds(text) == want


@pytest.mark.parametrize(
    "text",
    [
        "",  # nothing
        "leftrite",  # a typo
        "pope,video",  # one unknown
        " , ",  # only separators
    ],
)
def test_parse_kinds_rejects(text):
    with pytest.raises(ValueError, match="unknown benchmark kind"):
        parse_kinds(text)


def test_count_units(coco_tiny, clips_dir):
    assert count_units(coco_tiny, ["pope", "region"]) == 10
    assert count_units(load_coco(clips_dir / "annotations.json"), ["motion", "pope"]) == 6 + 96
    with pytest.raises(ValueError, match="clips dataset"):
        count_units(coco_tiny, ["motion"])


def test_progress_is_called_once_per_unit(coco_tiny):
    calls = []
    list(build_benchmarks(coco_tiny, ["pope", "region"], progress=calls.append))
    assert calls == [1] * 10


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_per_image": 0}, "max_per_image"),  # nothing to ask
        ({"negatives": "hard"}, "unknown negatives"),  # not a POPE split
        ({"absent_rate": 1.5}, "absent_rate"),  # not a probability
    ],
)
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        BenchOptions(**options)


def test_registry():
    assert set(BENCHMARKS) == {*IMAGE_KINDS, "detection", "motion"}


def test_detection_lists_every_object_and_skips_crowd_images(coco_tiny):
    rows = _by_image(_rows(coco_tiny, "detection"))
    assert "crowd.png" not in rows
    (desk,) = rows["desk.png"]
    assert desk["task"] == "detect"
    assert desk["args"] == {}
    assert [o["category"] for o in desk["expected"]["objects"]] == [
        "person", "cup", "laptop", "cup"
    ]  # fmt: skip


def test_the_fixture_is_real_coco(coco_tiny):
    reference = COCO(str(COCO_TINY / "annotations.json"))
    assert len(reference.getAnnIds()) == len(coco_tiny.annotations) == 14
    assert len(reference.getAnnIds(iscrowd=True)) == 1
    assert sorted(reference.getCatIds()) == [1, 18, 44, 47, 62, 73]


def test_a_region_without_a_unique_partner_may_relate_to_a_repeated_one(tmp_path):
    """As the task describes it (`region.partners`): objects whose category appears once
    when one relates to the region, else any other; only none at all means no relation."""
    cats = [{"id": 1, "name": "dog"}, {"id": 2, "name": "cup"}]
    boxes = [(1, [10, 10, 20, 20]), (2, [60, 10, 20, 20]), (2, [60, 60, 20, 20])]
    (tmp_path / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "two-cups.png", "width": 100, "height": 100}],
        "categories": cats,
        "annotations": [{"id": i, "image_id": 1, "category_id": c, "bbox": b, "area": 400,
                         "iscrowd": 0} for i, (c, b) in enumerate(boxes, 1)],
    }))  # fmt: skip
    rows = _rows(load_coco(tmp_path / "annotations.json"), "region", max_per_image=5)
    dog = next(r for r in rows if r["task"] == "region" and r["expected"]["category"] == "dog")
    assert sorted(map(tuple, dog["expected"]["valid"])) == [
        ("above", "cup"), ("left of", "cup"), ("left of", "cup")]  # fmt: skip
