"""Would square tiles of a non-square image detect better than the squashed whole? Offline.

    python bench/detect_tiles.py --bench runs/fresh/bench.jsonl \
        --answers runs/eval0/eval.answers.jsonl [--model default] [--limit N] [--threads 2]

`/v1/detect` answered from the listing of every object and a second look (each category's
own grounding question, its boxes added where nothing is listed), both about the whole
image, squashed to the model's square input: in a 1:2 image each object is half as tall
(or wide) as in a square one. Here each detection row of a non-square image (width and
height 15% apart or more) is asked again on three square crops of the short side's size
(`tasks.tiles.crops`: every object of the contract lies whole in one), with the API's
constraints: the listing and the second look's questions on each crop. A crop's box near
one of its cuts is dropped (`tasks.tiles.moved`: it is whole in the next crop), the same
label's boxes over IoU 0.5 are one object. The ways compared, by aspect:

- whole: listing + second look: the whole image's answers alone (the first answers of
  each saved served row, `--answers`, a `locvlm eval` run of the same rows): `/v1/detect`
  before tiles;
- crop listings: the crops' listings merged;
- ... + second look: then each category's answers about the whole image added where
  nothing is listed (`tasks.detect.completed`); + crop looks: its answers about the
  crops instead, merged;
- whole listing + crop looks / + crop listings: the whole image's listing, completed by
  the crops' looks or listings;
- crop listings, checked: less a crop's object that the whole listing names as another
  category, or that lies on one kept under another label;
- crop listings, supported or confirmed (shipped, `tasks.tiles.listed`): a crop's object
  kept where the whole image's listing or second look has it, or its category's own
  answer about that crop does; then the second look.

Square images keep the whole image's answers in every way. Each judged as `locvlm eval`
judges detection (`tasks.detect.judged`): precision, recall, images with every object
right.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from grounding_offline import load  # beside this script
from grounding_tiles import ASPECTS, aspect  # beside this script

from locvlm.engines.base import Constraint
from locvlm.eval.runner import load_rows, open_image
from locvlm.model.loading import LoadedModel, load_model
from locvlm.tasks import TASKS, detect
from locvlm.tasks import tiles as tiling
from locvlm.tasks.base import Obj
from locvlm.tasks.tiles import Crop, crops, moved
from locvlm_client import Box

WAYS = (
    "whole: listing + second look",
    "crop listings",
    "crop listings + second look",
    "crop listings + crop looks",
    "whole listing + crop looks",
    "crop listings, checked",
    "crop listings, checked + second look",
    "whole listing + crop listings",
    "whole listing + crop listings + second look",
    "crop listings, supported or confirmed + second look (shipped)",
)


def merged_objects(
    answers: Sequence[tuple[Crop, Sequence[Obj]]], size: tuple[int, int]
) -> list[Obj]:
    """Each crop's objects in the image's pixels, less those at a cut, each label's once."""
    kept: list[Obj] = []
    for crop, objects in answers:
        for o in objects:
            box = moved(crop, o.box, size)
            same = [k.box for k in kept if k.category == o.category]
            if box is not None and all(box.iou(k) <= 0.5 for k in same):
                kept.append(Obj(o.category, box))
    return kept


def _engine(regex: str | None) -> str | None:
    """A task's constraint as `locvlm eval` hands it to the model (`Constraint.for_engine`)."""
    return None if regex is None else Constraint(regex=regex).for_engine()


class Asker:
    """The listing and each category's question about crops, with the API's constraints."""

    def __init__(self, model: LoadedModel) -> None:
        self.model, codec = model, model.codec
        vocabulary = model.sidecar.vocabulary
        self.categories = list(vocabulary)
        listing, locpred = TASKS["detect"], TASKS["locpred"]
        self.listing = _engine(listing.constraint({}, codec, vocabulary))
        self.own = {c: _engine(locpred.constraint({"phrase": c}, codec, vocabulary))
                    for c in vocabulary}  # fmt: skip
        self.prompts = {c: locpred.prompt({"phrase": c}, codec, (1, 1)) for c in vocabulary}

    def ask(self, pieces: Sequence[Any]) -> list[tuple[tuple[Obj, ...], dict[str, list[Box]]]]:
        """For each crop image: its listing's objects, each category's boxes."""
        images, questions, regexes = [], [], []
        for piece in pieces:
            images += [piece] * (1 + len(self.categories))
            questions += [detect.prompt(), *(self.prompts[c] for c in self.categories)]
            regexes += [self.listing, *(self.own[c] for c in self.categories)]
        texts = self.model.generate(images, questions, regexes=regexes)
        out = []
        step = 1 + len(self.categories)
        codec = self.model.codec
        for k, piece in enumerate(pieces):
            listing, *own = texts[k * step : (k + 1) * step]
            objects = TASKS["detect"].read(listing, codec, piece.size) or ()
            looks = {}
            for c, text in zip(self.categories, own, strict=True):
                said = TASKS["locpred"].read(text, codec, piece.size)
                looks[c] = list(said.boxes) if said else []
            out.append((tuple(objects), looks))
        return out


def ways(
    row: dict[str, Any],
    served: dict[str, Any],
    tiles: Sequence[tuple[Crop, tuple[Obj, ...], dict[str, list[Box]]]],
    categories: Sequence[str],
    codec: Any,
) -> dict[str, list[Obj]]:
    """The objects each way finds in a non-square image."""
    size = (int(row["size"][0]), int(row["size"][1]))
    whole, whole_looks = _whole(served, categories, codec, size)
    listings = [(c, objects) for c, objects, _ in tiles]
    asked = {(k, c): looks[c] for k, (_, _, looks) in enumerate(tiles) for c in categories}
    shipped = [o for _, _, o in tiling.listed(listings, whole, whole_looks, asked, size)]
    listed = merged_objects([(c, objects) for c, objects, _ in tiles], size)
    crop_looks = {
        c: [o.box for o in merged_objects([(crop, [Obj(c, b) for b in looks[c]])
                                           for crop, _, looks in tiles], size)]
        for c in categories
    }  # fmt: skip
    checked = _checked(listed, whole)
    by_category: dict[str, list[Box]] = defaultdict(list)
    for o in listed:
        by_category[o.category].append(o.box)
    added = [*whole, *detect.completed(whole, by_category)]
    return {
        "crop listings": listed,
        "crop listings + second look": [*listed, *detect.completed(listed, whole_looks)],
        "crop listings + crop looks": [*listed, *detect.completed(listed, crop_looks)],
        "whole listing + crop looks": [*whole, *detect.completed(whole, crop_looks)],
        "crop listings, checked": checked,
        "crop listings, checked + second look": [
            *checked,
            *detect.completed(checked, whole_looks),
        ],
        "whole listing + crop listings": added,
        "whole listing + crop listings + second look": [
            *added,
            *detect.completed(added, whole_looks),
        ],
        "crop listings, supported or confirmed + second look (shipped)": [
            *shipped,
            *detect.completed(shipped, whole_looks),
        ],
    }


def _checked(listed: Sequence[Obj], whole: Sequence[Obj]) -> list[Obj]:
    """The crops' objects, less mix-ups and repeats under another label.

    A mix-up: the whole image's listing names that object as another category (IoU > 0.5).
    """
    kept: list[Obj] = []
    for o in listed:
        if any(w.category != o.category and w.box.iou(o.box) > 0.5 for w in whole):
            continue
        if all(k.box.iou(o.box) <= 0.5 for k in kept):
            kept.append(o)
    return kept


def run(
    model: LoadedModel,
    rows: Sequence[dict[str, Any]],
    answers: dict[str, dict[str, Any]],
    advance: Callable[[], None] = lambda: None,
) -> dict[tuple[str, str], Counter[str]]:
    """Counts (predicted, expected, matched, images, right) by (aspect, way)."""
    asker, codec = Asker(model), model.codec
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for row in rows:
        served = answers[f"{row['id']}/served"]
        size = (int(row["size"][0]), int(row["size"][1]))
        group = aspect(size)
        found: dict[str, list[Obj] | None] = {way: None for way in WAYS}
        cut = crops(size)
        if cut:
            image = open_image(row)
            said = asker.ask([image.crop(c) for c in cut])
            tiles = [(c, objects, looks) for c, (objects, looks) in zip(cut, said, strict=True)]
            found.update(ways(row, served, tiles, asker.categories, codec))
        for way in WAYS:
            c = counts[(group, way)]
            got = found[way]
            if got is None:  # a square image, or the whole image's answers
                said_counts, right = served_counts(row, served, codec, asker.categories)
            else:
                judged = detect.judged(got, row["expected"])
                said_counts, right = judged.said, judged.correct
            c.update({k: int(v) for k, v in said_counts.items()})
            c["images"] += 1
            c["right"] += int(right)
        advance()
    return counts


def _whole(
    served: dict[str, Any], categories: Sequence[str], codec: Any, size: tuple[int, int]
) -> tuple[list[Obj], dict[str, list[Box]]]:
    """A saved served row's whole-image answers: its listing, each category's boxes."""
    listed = list(TASKS["detect"].read(served["text"], codec, size) or ())
    looks = {}
    for c, text in zip(categories, served["also"], strict=False):  # then the crops'
        said = TASKS["locpred"].read(text, codec, size)
        looks[c] = list(said.boxes) if said else []
    return listed, looks


def served_counts(
    row: dict[str, Any], served: dict[str, Any], codec: Any, categories: Sequence[str]
) -> tuple[dict[str, int], bool]:
    """The whole image's listing and second look, judged (`/v1/detect` before tiles).

    The first answers of a saved served row.
    """
    listed, looks = _whole(served, categories, codec, (int(row["size"][0]), int(row["size"][1])))
    judged = detect.judged([*listed, *detect.completed(listed, looks)], row["expected"])
    return dict(judged.said), judged.correct


def table(counts: dict[tuple[str, str], Counter[str]]) -> str:
    """Precision / recall / images right, by aspect and in all, one line a way."""
    head = " | ".join(f"{a} (P / R / images)" for a in ASPECTS)
    lines = [f"| way | {head} | all (P / R / images) |", "|---|" + "---|" * (len(ASPECTS) + 1)]
    for way in WAYS:
        cells = []
        for group in [*ASPECTS, None]:
            c: Counter[str] = Counter()
            for (a, w), v in counts.items():
                if w == way and (group is None or a == group):
                    c.update(v)
            p = c["matched"] / max(1, c["predicted"])
            r = c["matched"] / max(1, c["expected"])
            cells.append(f"{p:.3f} / {r:.3f} / {c['right'] / max(1, c['images']):.3f}")
        lines.append(f"| {way} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Ask every detection row's crops; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", action="append", required=True, help="benchmark JSONL")
    parser.add_argument("--answers", type=Path, required=True, help="saved served answers")
    parser.add_argument("--model", default="default")
    parser.add_argument("--limit", type=int, default=0, help="only the first N rows (0: all)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [r for r in load_rows(args.bench) if r["task"] == "detect"]
    rows = rows[: args.limit] if args.limit else rows
    answers = {a["id"]: a for a in load(args.answers)}
    model, start = load_model(args.model), time.perf_counter()
    counts = run(model, rows, answers)
    print(f"{len(rows)} detection rows\n")
    print(table(counts))
    print(f"{(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
