"""Would square tiles of a non-square image ground better than the squashed whole? Offline.

    python bench/grounding_tiles.py --bench runs/fresh/bench.jsonl [--bench ...] \
        [--answers bench/results/eval-default.answers.jsonl] [--model default] \
        [--margins 0.02,0.05,0.1] [--dedup 0.5] [--limit N] [--threads 1]

The model sees every image squashed to 128x128, so in a 1:2 image each object is half as
tall (or wide) as in a square one. Here each grounding row of a non-square image (width and
height 15% apart or more) is asked again on three square crops of the short side's size
(at the start, middle and end of the long side; any object under half the short side lies
whole in one of them), each squashed in its turn, so objects keep their shape. The boxes
found are moved back into the image; a box within `margin` of a crop's inner cut (an
object maybe cut in two) is dropped, and one that overlaps a box kept already (IoU >
`--dedup`) is the same object. Each row is judged as `locvlm eval` judges LocPred (the
boxes one to one at IoU > 0.5), against the whole image's own answer (asked here too),
by aspect. Square images keep their own answer in the tiled columns.

With `--answers` (a saved `locvlm eval` run of the same rows, with their rows as served)
two more ways: as served (what `/v1/ground` answered when they were saved: in session 23,
the own answer checked against the listing of every object, `detect.checked`; since
session 24 a non-square image's phrases are read from `/v1/detect`'s answer in tiles,
`bench/detect_tiles.py`), and the tiles (margin 0.1) checked against the whole
image's listing from those answers: a tile box on a listed object of another category
(IoU > 0.5) is a mix-up and dropped (a crop that lacks the phrase's object shows the
model only its same-colour neighbours). NegPred rows (absent phrases) are asked too:
their right answer is no box. Session 23 served these tiles (`docs/results.md`, "Square
tiles of non-square images"); `merged` and `checked` below are that reader.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from grounding_offline import _listing, load  # beside this script
from PIL import Image

from locvlm.eval.runner import load_rows, open_image
from locvlm.model.loading import LoadedModel, load_model
from locvlm.tasks import TASKS, detect, locpred
from locvlm.tasks._text import normalize
from locvlm.tasks.base import Obj, as_box
from locvlm.tasks.scoring import boxes_match
from locvlm.tasks.tiles import MARGIN, Crop, crops, moved, square
from locvlm_client import Box, SizeLike

ASPECTS = ("square", "tall", "wide")


def merged(
    answers: Iterable[tuple[Crop, Sequence[Box]]],
    size: SizeLike,
    margin: float = MARGIN,
    dedup: float = 0.5,
) -> list[Box]:
    """Each crop's boxes (in the crop's pixels) in the image's, less those at a cut, once.

    A box that overlaps one kept already (IoU > `dedup`) is the same object seen again.
    """
    kept: list[Box] = []
    for crop, boxes in answers:
        for b in boxes:
            box = moved(crop, b, size, margin)
            if box is not None and all(box.iou(k) <= dedup for k in kept):
                kept.append(box)
    return kept


def checked(boxes: Sequence[Box], listed: Sequence[Obj], phrase: str) -> list[Box]:
    """`boxes` less those on a listed object of another category (IoU > 0.5).

    A crop that lacks the phrase's object shows the model only its neighbours, and it
    points at a same-colour one; the listing of the whole image names that object.
    """
    others = [o.box for o in listed if o.category != normalize(phrase)]
    return list(detect.outside(boxes, others, 0.5))


def aspect(size: tuple[int, int]) -> str:
    """As the eval groups images: square within 15%, else tall or wide."""
    return "square" if square(size) else ("tall" if size[1] > size[0] else "wide")


_LIMIT = 48  # tokens an answer may take: three boxes and more


def _ask(model: LoadedModel, images: list[Image.Image], phrases: list[str]) -> list[Sequence[Box]]:
    """Each phrase's own grounding answer about its image, read (no boxes if none read)."""
    texts = model.generate(images, [locpred.prompt(p) for p in phrases], max_new_tokens=_LIMIT)
    out: list[Sequence[Box]] = []
    for image, text in zip(images, texts, strict=True):
        said = locpred.parse(text, model.codec, image.size)
        out.append(() if said is None else said.boxes)
    return out


def run(
    model: LoadedModel,
    rows: Sequence[dict[str, Any]],
    margins: Sequence[float],
    dedup: float,
    answers: dict[str, dict[str, Any]] | None = None,
) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """Right answers by (aspect, way) and rows by aspect (see `ways`)."""
    right: Counter[tuple[str, str]] = Counter()
    total: Counter[str] = Counter()
    by_image: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_image[(row["image"], bool(row.get("hflip")), bool(row.get("vflip")))].append(row)
    for group in by_image.values():
        image = open_image(group[0])
        size = image.size
        cut = crops(size)
        pieces = [image] + ([image.crop(c) for c in cut] if cut else [])
        asked = [(row, k) for row in group for k in range(len(pieces))]
        said = _ask(model, [pieces[k] for _, k in asked], [r["args"]["phrase"] for r, _ in asked])
        said_by: dict[str, list[Sequence[Box]]] = defaultdict(list)
        for (row, _), boxes in zip(asked, said, strict=True):
            said_by[row["id"]].append(boxes)
        group_aspect = aspect(size)
        for row in group:
            want = [as_box(b) for b in row["expected"]["boxes"]]
            whole, *tiled = said_by[row["id"]]
            total[group_aspect] += 1
            right[(group_aspect, "whole")] += boxes_match(list(whole), want)
            for m in margins:
                got = merged(list(zip(cut, tiled, strict=True)), size, m, dedup) if cut else whole
                right[(group_aspect, f"tiles, margin {m}")] += boxes_match(list(got), want)
            if answers is None:
                continue
            served = answers[f"{row['id']}/served"]
            right[(group_aspect, "as served")] += bool(served["correct"])
            if not cut:  # served as now
                right[(group_aspect, "tiles, checked")] += bool(served["correct"])
                continue
            listed = TASKS["detect"].read(_listing(served), model.codec, size) or []
            tiles = merged(list(zip(cut, tiled, strict=True)), size, MARGIN, dedup)
            got = checked(tiles, listed, row["args"]["phrase"])
            right[(group_aspect, "tiles, checked")] += boxes_match(got, want)
    return right, total


def ways(margins: Sequence[float], answers: bool) -> list[str]:
    """The table's rows."""
    tiles = [f"tiles, margin {m}" for m in margins]
    return ["whole", *tiles, *(["as served", "tiles, checked"] if answers else [])]


def main() -> None:
    """Ask every grounding row whole and in tiles; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bench",
        action="append",
        required=True,
        help="a benchmark JSONL (its locpred and negpred rows); repeatable",
    )
    parser.add_argument("--answers", type=Path, help="saved answers of the same rows, served")
    parser.add_argument("--model", default="default")
    parser.add_argument(
        "--margins", default="0.02,0.05,0.1", help="comma-separated: near a crop's cut, of its side"
    )
    parser.add_argument("--dedup", type=float, default=0.5, help="IoU above which boxes are one")
    parser.add_argument("--limit", type=int, default=0, help="only the first N rows (0: all)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [r for r in load_rows(args.bench) if r["task"] in ("locpred", "negpred")]
    rows = rows[: args.limit] if args.limit else rows
    margins = [float(m) for m in args.margins.split(",")]
    answers = {a["id"]: a for a in load(args.answers)} if args.answers else None
    model, start = load_model(args.model), time.perf_counter()
    print(f"{len(rows)} grounding rows (LocPred and NegPred)")
    for task in ("locpred", "negpred"):
        asked = [r for r in rows if r["task"] == task]
        if asked:
            right, total = run(model, asked, margins, args.dedup, answers)
            _table(task, right, total, ways(margins, answers is not None))
    minutes = (time.perf_counter() - start) / 60
    print(f"{minutes:.1f} min, dedup IoU {args.dedup}")


def _table(
    task: str, right: Counter[tuple[str, str]], total: Counter[str], rows: Sequence[str]
) -> None:
    print(f"\n{task}, right by aspect:\n")
    print("| way | " + " | ".join(f"{a} ({total[a]})" for a in ASPECTS) + " | all |")
    print("|---|" + "---|" * (len(ASPECTS) + 1))
    for way in rows:
        cells = [f"{right[(a, way)] / total[a]:.3f}" if total[a] else "-" for a in ASPECTS]
        every = sum(right[(a, way)] for a in ASPECTS) / max(1, sum(total.values()))
        print(f"| {way} | " + " | ".join(cells) + f" | {every:.3f} |")


if __name__ == "__main__":
    main()
