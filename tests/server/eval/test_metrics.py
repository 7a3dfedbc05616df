import pytest

from locvlm.eval.metrics import aspect_bucket, flip_consistency, pope, size_bucket, summarize
from locvlm.eval.questions import Judged


def _row(
    i: int, answer: str = "yes", group: str | None = None, size: tuple[int, int] = (10, 10)
) -> dict:
    return {"id": str(i), "bench": "pope", "task": "exists", "size": list(size),
            "expected": {"answer": answer}, "group": group, "split": "random"}  # fmt: skip


def test_pope_hand_computed() -> None:
    # truth: 3 yes, 2 no; said: yes, yes, no (for the yes) and yes, no (for the no)
    said = [True, True, False, True, False]
    truth = ["yes", "yes", "yes", "no", "no"]
    rows = [
        (_row(i, t), Judged(s == (t == "yes"), True, s))
        for i, (s, t) in enumerate(zip(said, truth, strict=True))
    ]
    m = pope(rows)
    # tp=2 fp=1 tn=1 fn=1
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["yes_ratio"] == pytest.approx(3 / 5)


def test_unparsed_answers_count_as_no() -> None:
    m = pope([(_row(0, "yes"), Judged(False, False, None))])
    assert m["recall"] == 0.0
    assert m["yes_ratio"] == 0.0


def test_flip_consistency_needs_both_twins() -> None:
    rows = [
        (_row(0, group="a"), Judged(True, True)),
        (_row(1, group="a"), Judged(True, True)),  # group a: both right
        (_row(2, group="b"), Judged(True, True)),
        (_row(3, group="b"), Judged(False, True)),  # group b: flip wrong
    ]
    assert flip_consistency(rows) == 0.5
    alone = [(_row(4), Judged(False, True)), (_row(5, group="c"), Judged(False, True))]
    assert flip_consistency(rows + alone) == 0.5  # no group, or no twin: not counted
    for row, _ in rows + alone:
        row["bench"] = "leftright"
    entry = summarize(rows + alone)["benches"]["leftright"]
    assert (entry["flip_consistency"], entry["pairs"]) == (0.5, 2)
    assert entry["tasks"]["exists"]["pairs"] == 2


@pytest.mark.parametrize(
    ("size", "bucket"),
    [((100, 100), "square"), ((105, 100), "square"), ((200, 100), "wide"), ((100, 150), "tall")],
)
def test_aspect_bucket(size: tuple[int, int], bucket: str) -> None:
    assert aspect_bucket(size) == bucket


def test_summarize_reports_benches_tasks_and_breakdowns() -> None:
    rows = [
        (_row(0, size=(200, 100)), Judged(True, True, True)),
        (_row(1), Judged(False, False, None)),
    ]
    report = summarize(rows)
    pope_entry = report["benches"]["pope"]
    assert pope_entry["accuracy"] == 0.5
    assert pope_entry["parse_failures"] == 0.5
    assert pope_entry["by_aspect"] == {"square": 0.0, "wide": 1.0}
    assert pope_entry["tasks"]["exists"]["by_aspect"] == {"square": 0.0, "wide": 1.0}
    assert "random" in pope_entry["pope"]


def test_each_task_has_its_own_aspect_breakdown() -> None:
    locpred = {**_row(0, size=(100, 200)), "bench": "grounding", "task": "locpred"}
    negpred = {**_row(1, size=(100, 100)), "bench": "grounding", "task": "negpred"}
    report = summarize([(locpred, Judged(False, True)), (negpred, Judged(True, True))])
    tasks = report["benches"]["grounding"]["tasks"]
    assert tasks["locpred"]["by_aspect"] == {"tall": 0.0}
    assert tasks["negpred"]["by_aspect"] == {"square": 1.0}
    assert report["benches"]["grounding"]["by_aspect"] == {"square": 1.0, "tall": 0.0}


def test_detection_precision_and_recall_pool_the_objects_of_every_image_per_task() -> None:
    said = [
        {"predicted": 3, "expected": 2, "matched": 2},  # one extra
        {"predicted": 1, "expected": 2, "matched": 1},  # one missed
        {"predicted": 2, "expected": 2, "matched": 2},  # as served: the second look found it
    ]
    tasks = ["detect", "detect", "detect_served"]
    rows = [({**_row(i), "bench": "detection", "task": t}, Judged(False, True, s))
            for i, (t, s) in enumerate(zip(tasks, said, strict=True))]  # fmt: skip
    by_task = summarize(rows)["benches"]["detection"]["tasks"]
    d = by_task["detect"]["detection"]
    assert (d["precision"], d["recall"], d["objects"]) == (3 / 4, 3 / 4, 4)
    assert by_task["detect_served"]["detection"]["recall"] == 1.0
    other = summarize([(_row(9), Judged(True, True))])["benches"]["pope"]["tasks"]["exists"]
    assert "detection" not in other


def test_tasks_with_negative_splits_are_broken_down_by_split() -> None:
    grounding = {"bench": "grounding", "task": "negpred"}
    rows = [
        ({**_row(0), **grounding, "split": "random"}, Judged(True, True)),
        ({**_row(1), **grounding, "split": "popular"}, Judged(False, True)),
        ({**_row(2), **grounding, "task": "locpred", "split": None}, Judged(True, True)),
    ]
    tasks = summarize(rows)["benches"]["grounding"]["tasks"]
    assert tasks["negpred"]["by_split"] == {"popular": 0.0, "random": 1.0}
    assert "by_split" not in tasks["locpred"]


def test_grounding_is_broken_down_by_the_boxes_expected() -> None:
    def locpred(i: int, boxes: int) -> dict:
        expected = {"boxes": [[0, 0, 5, 5]] * boxes}
        return {**_row(i), "bench": "grounding", "task": "locpred", "expected": expected}

    rows = [
        (locpred(0, 1), Judged(True, True)),
        (locpred(1, 1), Judged(True, True)),
        (locpred(2, 2), Judged(False, True)),
        (locpred(3, 3), Judged(True, True)),
        (locpred(4, 4), Judged(False, True)),
        ({**_row(5), "bench": "grounding", "task": "negpred"}, Judged(True, True)),
    ]
    tasks = summarize(rows)["benches"]["grounding"]["tasks"]
    assert tasks["locpred"]["by_boxes"] == {"1": 1.0, "2": 0.0, "3+": 0.5}
    assert "by_boxes" not in tasks["negpred"]  # an absent phrase expects no box


@pytest.mark.parametrize(
    ("box", "size", "bucket"),
    [
        ([0, 0, 10, 10], (200, 100), "<0.075"),  # 10 of 200 across: squashed, 0.05
        ([0, 0, 16, 40], (200, 100), "<0.1"),
        ([0, 0, 30, 25], (100, 200), "<0.15"),  # 25 of 200 down: 0.125
        ([0, 0, 20, 20], (100, 100), "<0.25"),
        ([10, 10, 60, 40], (100, 100), ">=0.25"),
    ],
)
def test_size_bucket_is_the_narrowest_side_of_the_squashed_box(
    box: list[int], size: tuple[int, int], bucket: str
) -> None:
    assert size_bucket(box, size) == bucket


def test_boxed_rows_are_broken_down_by_object_size() -> None:
    def grounding(i: int, boxes: list[list[int]]) -> dict:
        return {**_row(i, size=(100, 100)), "bench": "grounding", "task": "locpred",
                "expected": {"boxes": boxes}}  # fmt: skip

    rows = [
        (grounding(0, [[0, 0, 5, 5]]), Judged(False, True)),
        (grounding(1, [[0, 0, 50, 50], [60, 60, 65, 65]]), Judged(True, True)),  # smallest
        (grounding(2, [[0, 0, 50, 50]]), Judged(True, True)),
        ({**_row(3), "bench": "region", "task": "revloc", "args": {"box": [0, 0, 30, 30]}},
         Judged(True, True)),
        ({**_row(4), "bench": "grounding", "task": "negpred"}, Judged(True, True)),
    ]  # fmt: skip
    report = summarize(rows)["benches"]
    assert report["grounding"]["tasks"]["locpred"]["by_object_size"] == {
        "<0.075": 0.5,
        ">=0.25": 1.0,
    }
    assert "by_object_size" not in report["grounding"]["tasks"]["negpred"]  # no box
    assert report["region"]["tasks"]["revloc"]["by_object_size"] == {">=0.25": 1.0}


def test_wrong_answers_are_counted_by_kind_where_the_task_tells_them_apart() -> None:
    def described(i: int) -> dict:
        return {**_row(i), "bench": "region", "task": "region"}

    rows = [
        (described(0), Judged(True, True)),
        (described(1), Judged(False, True, mistake="partner")),
        (described(2), Judged(False, True, mistake="partner")),
        (described(3), Judged(False, True, mistake="category")),
        ({**_row(4), "bench": "region", "task": "revloc"}, Judged(False, True)),
    ]
    tasks = summarize(rows)["benches"]["region"]["tasks"]
    assert tasks["region"]["mistakes"] == {"partner": 2, "category": 1}
    assert "mistakes" not in tasks["revloc"]  # its judge tells no kinds apart
