"""Where a checkpoint's spatial and detection answers miss, judged offline on saved answers.

    python bench/misses.py --bench runs/fresh/bench.jsonl --answers runs/eval-k2.answers.jsonl

From the answers `locvlm eval --out` saved: side answers as served (`/served` rows) by
the size of the pair's smaller object, above/below ones by the vertical gap between the
pair (share of the image height), and detection recall by object size (size: the
narrowest side of the squashed box over the side, `eval.metrics.size_bucket`). Prints
markdown tables, each cell with its row count; then the model's own wrong grounding
answers by kind (judged against the image's objects, from its detection row: several
instances, said absent, a box on another object of the same colour or shape, the right
object at IoU 0.3-0.5, ...) and detection recall by the number of objects in the scene.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from grounding_offline import saved  # beside this script

from locvlm.coords import Codec, get_codec
from locvlm.eval.metrics import SIZE_EDGES, size_bucket
from locvlm.tasks import TASKS
from locvlm.tasks.base import Obj, as_box
from locvlm.tasks.detect import matched
from locvlm.tasks.scoring import IOU_THRESHOLD

BUCKETS = [f"<{e:g}" for e in SIZE_EDGES] + [f">={SIZE_EDGES[-1]:g}"]
GAPS = (0.05, 0.1)  # vertical gap between a pair, share of the height


def _cell(c: Counter[tuple[str, bool]], key: str) -> str:
    total = c[key, True] + c[key, False]
    return f"{c[key, True] / total:.3f} ({total})" if total else "-"


def _gap(row: dict[str, Any]) -> str:
    a, b = (e["box"] for e in row["expected"]["evidence"])
    gap = max(a[1] - b[3], b[1] - a[3]) / row["size"][1]
    return next((f"<{g:g}" for g in GAPS if gap < g), f">={GAPS[-1]:g}")


def misses(rows: Sequence[dict[str, Any]], answers: dict[str, dict[str, Any]], bins: int) -> str:
    """The markdown tables of `rows` judged by their saved `answers`."""
    codec = get_codec("ivb", bins=bins)
    sides: dict[str, Counter[tuple[str, bool]]] = {"leftright": Counter(), "abovebelow": Counter()}
    gaps: Counter[tuple[str, bool]] = Counter()
    recall: Counter[tuple[str, bool]] = Counter()
    for row in rows:
        served = answers.get(f"{row['id']}/served")
        if row["task"] == "spatial_side" and served and row["bench"] in sides:
            smaller = min(
                (size_bucket(e["box"], row["size"]) for e in row["expected"]["evidence"]),
                key=BUCKETS.index,
            )
            sides[row["bench"]][smaller, bool(served["correct"])] += 1
            if row["bench"] == "abovebelow":
                gaps[_gap(row), bool(served["correct"])] += 1
        if row["task"] == "detect" and row["id"] in answers:
            size = tuple(row["size"])
            left = list(TASKS["detect"].read(answers[row["id"]]["text"], codec, size) or ())
            for obj in row["expected"]["objects"]:
                want = as_box(obj["box"])
                hit = next((o for o in left if o.category == obj["category"]
                            and o.box.iou(want) > 0.5), None)  # fmt: skip
                if hit is not None:
                    left.remove(hit)
                recall[size_bucket(obj["box"], size), hit is not None] += 1
    head = "| | " + " | ".join(BUCKETS) + " |\n|---|" + "---|" * len(BUCKETS) + "\n"
    table = head + "".join(
        f"| {name} | " + " | ".join(_cell(c, b) for b in BUCKETS) + " |\n"
        for name, c in [("detection recall", recall),
                        ("left/right side as served, by the smaller object", sides["leftright"]),
                        ("above/below side as served, by the smaller object",
                         sides["abovebelow"])]
    )  # fmt: skip
    keys = [f"<{g:g}" for g in GAPS] + [f">={GAPS[-1]:g}"]
    gap_table = (
        "\n| above/below gap (share of height) | " + " | ".join(keys) + " |\n|---|"
        + "---|" * len(keys) + "\n| side as served | "
        + " | ".join(_cell(gaps, k) for k in keys) + " |\n"
    )  # fmt: skip
    return table + gap_table


def _kind(row: dict[str, Any], answer: dict[str, Any], objects: Sequence[Obj], codec: Codec) -> str:
    """Why a wrong own grounding answer is wrong, judged against the image's objects."""
    size = tuple(row["size"])
    want = [as_box(b) for b in row["expected"]["boxes"]]
    got = TASKS["locpred"].read(answer["text"], codec, size)
    if got is None:
        return "unreadable"
    if not got.boxes:
        return "said absent"
    if len(want) > 1:
        return "several instances, " + ("too few boxes" if len(got.boxes) < len(want)
                                        else "a box wrong")  # fmt: skip
    if len(got.boxes) > 1:
        return "extra boxes"
    box = got.boxes[0]
    if box.iou(want[0]) > 0.3:
        return "the object, IoU 0.3-0.5"
    other = max(objects, key=lambda o: o.box.iou(box), default=None)
    if other is None or other.box.iou(box) <= IOU_THRESHOLD:
        return "nowhere"
    asked, hit = row["args"]["phrase"].split(), other.category.split()  # colour, shape
    same = "colour" if asked[0] == hit[0] else "shape" if asked[-1] == hit[-1] else None
    return f"another object, same {same}" if same else "another object"


def kinds(rows: Sequence[dict[str, Any]], answers: dict[str, dict[str, Any]], bins: int) -> str:
    """Markdown: the own grounding answers' misses by kind, detection recall by crowding."""
    scenes = {
        _scene_key(r): [Obj(o["category"], as_box(o["box"])) for o in r["expected"]["objects"]]
        for r in rows
        if r["task"] == "detect"
    }
    codec = get_codec("ivb", bins=bins)
    wrong: Counter[str] = Counter()
    for row in rows:
        answer = answers.get(row["id"])
        if row["task"] == "locpred" and answer is not None and not answer["correct"]:
            wrong[_kind(row, answer, scenes.get(_scene_key(row), []), codec)] += 1
    crowd: Counter[tuple[str, bool]] = Counter()
    for row in rows:
        if row["task"] == "detect" and row["id"] in answers:
            got = TASKS["detect"].read(answers[row["id"]]["text"], codec, tuple(row["size"]))
            want = scenes[_scene_key(row)]
            hits = matched(list(got or ()), want)
            crowd[str(len(want)), True] += hits
            crowd[str(len(want)), False] += len(want) - hits
    table = "| own grounding answer wrong, by kind | answers |\n|---|---|\n" + "".join(
        f"| {kind} | {n} |\n" for kind, n in wrong.most_common()
    )
    counts = sorted({k for k, _ in crowd}, key=int)
    return table + (
        "\n| objects in the scene | " + " | ".join(counts) + " |\n|---|" + "---|" * len(counts)
        + "\n| detection recall | " + " | ".join(_cell(crowd, k) for k in counts) + " |\n"
    )  # fmt: skip


def _scene_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["image"], bool(row.get("hflip")), bool(row.get("vflip"))


def main() -> None:
    """Judge the saved answers and print the tables."""
    rows, answers, bins = saved(__doc__.splitlines()[0])
    print(misses(rows, answers, bins) + "\n" + kinds(rows, answers, bins), end="")


if __name__ == "__main__":
    main()
