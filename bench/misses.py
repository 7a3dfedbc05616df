"""Where a checkpoint's spatial and detection answers miss, judged offline on saved answers.

    python bench/misses.py --bench runs/fresh/bench.jsonl --answers runs/eval-k2.answers.jsonl

From the answers `locvlm eval --out` saved: side answers as served (`/served` rows) by
the size of the pair's smaller object, above/below ones by the vertical gap between the
pair (share of the image height), and detection recall by object size (size: the
narrowest side of the squashed box over the side, `eval.metrics.size_bucket`). Prints
markdown tables, each cell with its row count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from grounding_offline import saved  # beside this script

from locvlm.coords import get_codec
from locvlm.eval.metrics import SIZE_EDGES, size_bucket
from locvlm.tasks import TASKS
from locvlm.tasks.base import as_box

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


def main() -> None:
    """Judge the saved answers and print the tables."""
    print(misses(*saved(__doc__.splitlines()[0])), end="")


if __name__ == "__main__":
    main()
