"""Metrics over judged benchmark rows: accuracy, POPE, flip consistency, breakdowns."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from locvlm.tasks import Judged

__all__ = ["aspect_bucket", "detection", "flip_consistency", "pope", "size_bucket", "summarize"]

Row = Mapping[str, Any]

# upper edges of the object-size buckets: a box's narrowest side once the image is squashed
# to a square, as a share of that square's side (x 128: pixels in the default checkpoint's
# input; the shapes world's objects span 0.06-0.35)
SIZE_EDGES = (0.075, 0.1, 0.15, 0.25)


def _f1(precision: float, recall: float) -> float:
    """The harmonic mean of precision and recall (0 when both are 0)."""
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def pope(rows: Sequence[tuple[Row, Judged]]) -> dict[str, float]:
    """POPE-style accuracy, precision, recall, F1 and yes-ratio; "yes" is positive."""
    tp = fp = tn = fn = 0
    for row, judged in rows:
        truth = row["expected"]["answer"] == "yes"
        said_yes = judged.said is True
        tp += truth and said_yes
        fp += (not truth) and said_yes
        tn += (not truth) and not said_yes
        fn += truth and not said_yes
    n = max(tp + fp + tn + fn, 1)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = _f1(precision, recall)
    return {"accuracy": (tp + tn) / n, "precision": precision, "recall": recall, "f1": f1,
            "yes_ratio": (tp + fp) / n}  # fmt: skip


def detection(rows: Sequence[tuple[Row, Judged]]) -> dict[str, float]:
    """Object-level precision and recall over every image's listing (IoU > 0.5, category)."""
    counts = [j.said for _, j in rows if isinstance(j.said, dict)]
    predicted = sum(c["predicted"] for c in counts)
    expected = sum(c["expected"] for c in counts)
    hits = sum(c["matched"] for c in counts)
    precision = hits / predicted if predicted else 0.0
    recall = hits / expected if expected else 0.0
    f1 = _f1(precision, recall)
    return {"precision": precision, "recall": recall, "f1": f1, "objects": expected}


def flip_consistency(rows: Sequence[tuple[Row, Judged]]) -> float:
    """Share of groups (a question and its flipped twin) answered right every time.

    Rows without a group, or whose twin is not among `rows`, are not counted.
    """
    return _consistent(_twins(rows))


def _consistent(twins: Sequence[Sequence[bool]]) -> float:
    """Share of `twins` (each group's rows, right or not) answered right every time."""
    return sum(all(v) for v in twins) / max(len(twins), 1)


def _twins(rows: Sequence[tuple[Row, Judged]]) -> list[list[bool]]:
    """Whether each row was right, by group, for the groups of two or more rows."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for row, judged in rows:
        if row.get("group"):
            groups[str(row["group"])].append(judged.correct)
    return [v for v in groups.values() if len(v) > 1]


def aspect_bucket(size: Sequence[int]) -> str:
    """`square` (within 10%), `wide` or `tall`."""
    w, h = size
    return "square" if max(w, h) <= 1.1 * min(w, h) else ("wide" if w > h else "tall")


def size_bucket(box: Sequence[float], size: Sequence[int]) -> str:
    """The object-size bucket of `box` in an image of `size` (`SIZE_EDGES`), e.g. `<0.075`."""
    w, h = size
    share = min((box[2] - box[0]) / w, (box[3] - box[1]) / h)
    for edge in SIZE_EDGES:
        if share < edge:
            return f"<{edge:g}"
    return f">={SIZE_EDGES[-1]:g}"


def _row_box(row: Row) -> Sequence[float] | None:
    """The smallest box a row asks about or expects (grounding, region), if it has one."""
    box = (row.get("args") or {}).get("box")
    if box is not None:
        return list(box)
    boxes = (row.get("expected") or {}).get("boxes")
    if boxes:
        return min(boxes, key=lambda b: min((b[2] - b[0]) / row["size"][0],
                                            (b[3] - b[1]) / row["size"][1]))  # fmt: skip
    return None


def _accuracy(rows: Iterable[tuple[Row, Judged]]) -> dict[str, float]:
    items = list(rows)
    n = max(len(items), 1)
    return {
        "n": len(items),
        "accuracy": sum(j.correct for _, j in items) / n,
        "parse_failures": sum(not j.parsed for _, j in items) / n,
    }


def summarize(judged: Sequence[tuple[Row, Judged]]) -> dict[str, Any]:
    """Per benchmark kind and task, plus POPE splits, flip consistency and breakdowns."""
    by_bench: dict[str, list[tuple[Row, Judged]]] = defaultdict(list)
    for item in judged:
        by_bench[str(item[0]["bench"])].append(item)
    report: dict[str, Any] = {"overall": _accuracy(judged), "benches": {}}
    for bench, items in sorted(by_bench.items()):
        entry: dict[str, Any] = {**_accuracy(items), "tasks": {}}
        tasks: dict[str, list[tuple[Row, Judged]]] = defaultdict(list)
        for item in items:
            tasks[str(item[0]["task"])].append(item)
        entry["tasks"] = {
            t: {**_accuracy(v), "by_aspect": _by_aspect(v), **_by_split(v), **_by_boxes(v),
                **_flips(v), **_mistakes(v), **_by_object_size(v), **_detection(v)}
            for t, v in sorted(tasks.items())
        }  # fmt: skip
        if bench == "pope":
            splits: dict[str, list[tuple[Row, Judged]]] = defaultdict(list)
            for item in items:
                splits[str(item[0].get("split") or "all")].append(item)
            entry["pope"] = {s: pope(v) for s, v in sorted(splits.items())}
        entry.update(_flips(items))
        evidence = [j.evidence for _, j in items if j.evidence is not None]
        if evidence:
            entry["evidence_accuracy"] = sum(evidence) / len(evidence)
        entry["by_aspect"] = _by_aspect(items)
        report["benches"][bench] = entry
    return report


def _detection(items: Sequence[tuple[Row, Judged]]) -> dict[str, dict[str, float]]:
    """Object-level precision and recall, for a task whose judge counts objects."""
    if not any(isinstance(j.said, dict) and "matched" in j.said for _, j in items):
        return {}
    return {"detection": detection(items)}


def _by_split(items: Sequence[tuple[Row, Judged]]) -> dict[str, dict[str, float]]:
    """Accuracy per negatives split (random, popular, adversarial), for rows that have one."""
    splits: dict[str, list[tuple[Row, Judged]]] = defaultdict(list)
    for item in items:
        if item[0].get("split"):
            splits[str(item[0]["split"])].append(item)
    if not splits:
        return {}
    return {"by_split": {s: _accuracy(v)["accuracy"] for s, v in sorted(splits.items())}}


def _flips(items: Sequence[tuple[Row, Judged]]) -> dict[str, float]:
    """Flip consistency and its pairs, where the rows come in flipped groups."""
    if not any(item[0].get("group") for item in items):
        return {}
    twins = _twins(items)
    return {"flip_consistency": _consistent(twins), "pairs": len(twins)}


def _by_boxes(items: Sequence[tuple[Row, Judged]]) -> dict[str, dict[str, float]]:
    """Accuracy by how many boxes a row expects (1, 2, 3+), for rows that expect boxes.

    Listing every instance is harder than finding one: the grounding gap is mostly here.
    """
    counts: dict[str, list[tuple[Row, Judged]]] = defaultdict(list)
    for item in items:
        boxes = (item[0].get("expected") or {}).get("boxes")
        if boxes:
            counts[str(len(boxes)) if len(boxes) < 3 else "3+"].append(item)
    if not counts:
        return {}
    return {"by_boxes": {k: _accuracy(v)["accuracy"] for k, v in sorted(counts.items())}}


def _by_object_size(items: Sequence[tuple[Row, Judged]]) -> dict[str, dict[str, float]]:
    """Accuracy by the size of the object asked about (`size_bucket`), for rows with a box.

    Squashed to the model's square input, a 2:1 image's objects can be 8 pixels across:
    whether the small ones are where the misses are is the resolution question.
    """
    sizes: dict[str, list[tuple[Row, Judged]]] = defaultdict(list)
    for item in items:
        if (box := _row_box(item[0])) is not None:
            sizes[size_bucket(box, item[0]["size"])].append(item)
    if not sizes:
        return {}
    order = [f"<{e:g}" for e in SIZE_EDGES] + [f">={SIZE_EDGES[-1]:g}"]
    return {"by_object_size": {k: _accuracy(sizes[k])["accuracy"] for k in order if k in sizes}}


def _mistakes(items: Sequence[tuple[Row, Judged]]) -> dict[str, dict[str, int]]:
    """How many answers went wrong in each way, for tasks that tell kinds apart."""
    kinds = Counter(j.mistake for _, j in items if j.mistake is not None)
    return {"mistakes": dict(kinds.most_common())} if kinds else {}


def _by_aspect(items: Sequence[tuple[Row, Judged]]) -> dict[str, float]:
    """Accuracy per aspect bucket of the images (square, tall, wide)."""
    aspects: dict[str, list[tuple[Row, Judged]]] = defaultdict(list)
    for item in items:
        aspects[aspect_bucket(item[0]["size"])].append(item)
    return {a: _accuracy(v)["accuracy"] for a, v in sorted(aspects.items())}
