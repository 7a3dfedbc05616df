from collections import Counter, defaultdict

import pytest

from locvlm.coords.relations import Axis, Relation, relation_on_axis
from locvlm.data.bench_spatial import mirror
from locvlm.data.benchmarks import BenchOptions, build_benchmarks
from locvlm.tasks.spatial import SIDE_WORDS
from locvlm_client import Box

_SIDES = {word: rel for rel, word in SIDE_WORDS.items()}


@pytest.mark.parametrize(
    ("box", "axis", "want"),
    [
        ((10, 20, 30, 40), Axis.HORIZONTAL, (70, 20, 90, 40)),  # x -> w - x, corners swap
        ((10, 5, 30, 25), Axis.VERTICAL, (10, 35, 30, 55)),  # y -> h - y
        ((0, 0, 100, 60), Axis.HORIZONTAL, (0, 0, 100, 60)),  # the whole image stays
        ((50, 5, 50, 9), Axis.HORIZONTAL, (50, 5, 50, 9)),  # a line on the centre
    ],
)
def test_mirror(box, axis, want):
    got = mirror(Box.from_xyxy(box), (100, 60), axis)
    assert got.to_xyxy() == want
    assert mirror(got, (100, 60), axis).to_xyxy() == box  # an involution


def _rows(dataset, kind, **options):
    return list(build_benchmarks(dataset, [kind], BenchOptions(**options)))


def _box(item) -> Box:
    return Box.from_xyxy(item["box"])


def _check_groups(rows, axis: Axis, flip: str) -> None:
    groups = defaultdict(list)
    for row in rows:
        groups[row["group"]].append(row)
    for members in groups.values():
        shown, flipped = sorted(members, key=lambda r: r[flip])
        assert (shown[flip], flipped[flip]) == (False, True)
        assert shown["args"] == flipped["args"]  # the same question ...
        assert shown["expected"]["answer"] != flipped["expected"]["answer"]  # ... swapped answer
        size = tuple(shown["size"])
        pairs = zip(shown["expected"]["evidence"], flipped["expected"]["evidence"], strict=True)
        for before, after in pairs:
            assert before["category"] == after["category"]
            assert mirror(_box(before), size, axis) == _box(after)


def _check_answers(rows, axis: Axis) -> None:
    """Every answer follows from the (mirrored) evidence boxes, which never overlap."""
    for row in rows:
        subject, reference = row["expected"]["evidence"]
        assert [subject["category"], reference["category"]] == [
            row["args"]["subject"],
            row["args"]["reference"],
        ]
        holds = relation_on_axis(_box(subject), _box(reference), axis)
        assert holds is not None
        if row["task"] == "spatial_side":
            assert _SIDES[row["expected"]["answer"]] is holds
        else:
            asked = Relation(row["args"]["relation"])
            assert asked.axis is axis
            assert row["expected"]["answer"] == ("yes" if asked is holds else "no")


def test_leftright_on_the_fixture(coco_tiny):
    rows = _rows(coco_tiny, "leftright")
    _check_groups(rows, Axis.HORIZONTAL, "hflip")
    _check_answers(rows, Axis.HORIZONTAL)
    pairs = {(r["image"], frozenset((r["args"]["subject"], r["args"]["reference"]))) for r in rows}
    assert pairs == {
        ("desk.png", frozenset({"person", "laptop"})),  # the two cups are never asked about
        ("crowd.png", frozenset({"dog", "cup"})),  # the crowd region is no single person
        ("table.png", frozenset({"laptop", "cup"})),
        ("table.png", frozenset({"laptop", "bottle"})),
        ("table.png", frozenset({"cup", "bottle"})),
    }  # park: dog and person overlap on x; touch: the boxes touch
    assert all("vflip" not in row for row in rows)
    assert Counter(r["task"] for r in rows) == {"spatial_yes_no": 10, "spatial_side": 10}


def test_yes_no_is_balanced(shapes):
    rows = [r for r in _rows(shapes, "leftright") if r["task"] == "spatial_yes_no"]
    answers = Counter(r["expected"]["answer"] for r in rows)
    assert answers["yes"] == answers["no"] > 10
    sides = Counter(r["expected"]["answer"] for r in _rows(shapes, "leftright"))
    assert sides["left"] == sides["right"]


def test_abovebelow_flips_vertically(coco_tiny, shapes):
    for dataset in (coco_tiny, shapes):
        rows = _rows(dataset, "abovebelow")
        assert rows
        assert all(row["hflip"] is False for row in rows)
        _check_groups(rows, Axis.VERTICAL, "vflip")
        _check_answers(rows, Axis.VERTICAL)
    assert {r["expected"]["answer"] for r in rows if r["task"] == "spatial_side"} == {
        "above",
        "below",
    }


def _as_shown(rows) -> list[dict]:
    return [
        {k: v for k, v in r.items() if k not in ("id", "group")} for r in rows if not r["vflip"]
    ]


@pytest.mark.parametrize("upright", [("triangle",), ("red triangle", "blue triangle")])
def test_upright_images_are_not_flipped_top_to_bottom(shapes, upright):
    # named by supercategory (the shape) or by category
    shows = {
        r.file_name for r in shapes.records() if any(c.endswith(upright) for c, _ in r.objects)
    }
    rows = _rows(shapes, "abovebelow", upright=upright)
    assert shows & {r["image"] for r in rows}  # still asked, as shown
    for row in rows:
        alone = row["image"] in shows
        assert (row["group"] is None) is alone
        assert not (alone and row["vflip"])
    _check_groups([r for r in rows if r["group"]], Axis.VERTICAL, "vflip")
    # the questions as shown are the same; left/right mirrors every image still
    everything = _rows(shapes, "abovebelow")
    assert _as_shown(rows) == _as_shown(everything)
    assert len(everything) > len(rows)
    assert _rows(shapes, "leftright", upright=upright) == _rows(shapes, "leftright")


def test_max_per_image_caps_the_pairs(shapes):
    for cap in (1, 2):
        rows = _rows(shapes, "leftright", max_per_image=cap)
        per_image = Counter(r["image"] for r in rows)
        assert max(per_image.values()) == 4 * cap  # two forms, each with its flip
