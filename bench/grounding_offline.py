"""How a listing checkpoint's grounding would be served, judged offline on saved answers.

    python bench/grounding_offline.py --bench runs/fresh/bench.jsonl \
        --bench runs/fresh/negpred-random.jsonl ... --answers runs/eval-k2.answers.jsonl

Reads the answers `locvlm eval --out` saved for a checkpoint read from its listing (each
grounding row's own LocPred answer, and its `/served` row's listing of the image) and
judges each way of combining them on the same rows, with no model: the own answer, the
listing, the listing with the own answer as a second look (`detect.grounded`, the
`grounds_from` "listing" path), the own answer plus the listed instances it missed, the
own answer without its boxes on another listed category, and both (`detect.checked`,
the "answer" path). Prints a markdown table: grounding Acc@0.5 overall and by boxes
expected, and NegPred (absent phrases said absent).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from locvlm.coords import get_codec
from locvlm.tasks import TASKS, Obj, detect
from locvlm.tasks.base import as_box
from locvlm.tasks.scoring import boxes_match
from locvlm_client import Box

Way = Callable[[list[Box], Sequence[Obj], str], Sequence[Box]]


def _without_mixups(own: list[Box], listed: Sequence[Obj], phrase: str) -> Sequence[Box]:
    """Own boxes on a listed object of another category dropped, where none is `phrase`."""
    if detect.instances(listed, phrase):
        return own
    others = [o.box for o in listed if o.category != detect.normalize(phrase)]
    return detect.outside(own, others, overlap=0.5)


WAYS: dict[str, Way] = {
    "own answer": lambda own, listed, phrase: own,
    "listing": lambda own, listed, phrase: detect.instances(listed, phrase),
    "listing, own as second look": lambda own, listed, phrase: detect.grounded(listed, phrase, own),
    "own + listed instances missed": lambda own, listed, phrase: [
        *own,
        *detect.outside(detect.instances(listed, phrase), own),
    ],
    "own, mix-ups dropped": _without_mixups,
    "both (detect.checked)": lambda own, listed, phrase: detect.checked(listed, phrase, own),
}


def load(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _listing(served: dict[str, Any]) -> str:
    """The listing's text of a served grounding row (asked first, or last beside the phrase)."""
    return str(served["text"] if served["prompt"] == detect.prompt() else served["also"][-1])


def judge(rows: Sequence[dict[str, Any]], answers: dict[str, dict[str, Any]], bins: int) -> str:
    """The markdown table of every way in `WAYS` on the grounding `rows`, saved `answers`."""
    codec = get_codec("ivb", bins=bins)
    hits: dict[str, Counter[tuple[str, bool]]] = defaultdict(Counter)
    for row in rows:
        rid = row["id"]
        if row.get("task") not in ("locpred", "negpred") or f"{rid}/served" not in answers:
            continue
        size, phrase = tuple(row["size"]), str(row["args"]["phrase"])
        own_said = TASKS["locpred"].read(answers[rid]["text"], codec, size)
        own = [] if own_said is None else list(own_said.boxes)
        listed = TASKS["detect"].read(_listing(answers[f"{rid}/served"]), codec, size) or ()
        want = [as_box(b) for b in row["expected"]["boxes"]]
        kind = "negpred" if row["task"] == "negpred" else str(min(len(want), 3))
        for name, way in WAYS.items():
            got = list(way(own, listed, phrase))
            hits[name][kind, not got if kind == "negpred" else boxes_match(got, want)] += 1

    def share(c: Counter[tuple[str, bool]], kinds: Sequence[str]) -> str:
        right = sum(c[k, True] for k in kinds)
        total = right + sum(c[k, False] for k in kinds)
        return f"{right / total:.3f}" if total else "-"

    lines = ["| way | grounding | 1 / 2 / 3+ boxes | NegPred |", "|---|---|---|---|"]
    for name, c in hits.items():
        boxes = " / ".join(share(c, [k]) for k in "123")
        lines.append(f"| {name} | {share(c, '123')} | {boxes} | {share(c, ['negpred'])} |")
    return "\n".join(lines) + "\n"


def saved(description: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], int]:
    """The command line of a script that judges saved answers: (rows, answers by id, bins)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bench", type=Path, action="append", required=True)
    parser.add_argument("--answers", type=Path, required=True, help="locvlm eval's answers")
    parser.add_argument("--bins", type=int, default=32, help="the checkpoint's IVB bins")
    args = parser.parse_args()
    rows = [row for path in args.bench for row in load(path)]
    return rows, {row["id"]: row for row in load(args.answers)}, args.bins


def main() -> None:
    """Judge every way on the saved answers and print the table."""
    print(judge(*saved(__doc__.splitlines()[0])), end="")


if __name__ == "__main__":
    main()
