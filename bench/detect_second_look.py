"""Would a second look per category raise detection recall? Judged on a benchmark's rows.

    python bench/detect_second_look.py --bench runs/fresh/bench.jsonl [--model default] \
        [--answers bench/results/eval-default.answers.jsonl] [--limit N] [--threads 1]

For each detection row: the model's listing of every object (from `--answers`, a saved
`locvlm eval` run, where it has the row; else generated), then the presence question for
each category of the model's vocabulary that the listing does not name, and the
phrase's own grounding answer for each category of the vocabulary. Every box of the
answers of the categories said present, of the listed ones, or (last way: one round of
questions, no presence question) of all, that no listed or already added object covers
(IoU > 0.3) is added with that category (`detect.completed`). Prints precision, recall and images
right for the listing, each half of the second look, both, and the last; the questions
are asked greedily and unconstrained, as `locvlm eval` asks a task's own question.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from grounding_offline import load  # beside this script
from PIL import Image

from locvlm.eval.runner import load_rows, open_image
from locvlm.model.loading import LoadedModel, load_model
from locvlm.tasks import TASKS, Obj, detect
from locvlm_client import Box

WAYS = (
    "the listing",
    "+ categories not listed",
    "+ the listed categories' answers",
    "both",
    "+ every category's answer, no presence question",
)


def _grounded(
    model: LoadedModel, image: Image.Image, categories: Sequence[str], size: tuple[int, int]
) -> dict[str, Sequence[Box]]:
    """Each category's own grounding answer, read (no boxes where none was read)."""
    if not categories:
        return {}
    task = TASKS["locpred"]
    prompts = [task.prompt({"phrase": c}, model.codec, size) for c in categories]
    texts = model.generate([image] * len(prompts), prompts)
    read = [task.read(t, model.codec, size) for t in texts]
    return {c: (r.boxes if r else ()) for c, r in zip(categories, read, strict=True)}


def looks(
    model: LoadedModel, row: dict[str, Any], listing_text: str | None
) -> tuple[dict[str, list[Obj]], int]:
    """The objects each way finds in `row`'s image, and the presence questions asked."""
    size, image = (int(row["size"][0]), int(row["size"][1])), open_image(row)
    lister, exists = TASKS["detect"], TASKS["exists"]
    if listing_text is None:
        listing_text = model.generate([image], [lister.prompt({}, model.codec, size)])[0]
    listed = list(lister.read(listing_text, model.codec, size) or ())
    named = sorted({o.category for o in listed})
    unnamed = [c for c in model.sidecar.vocabulary if c not in named]
    prompts = [exists.prompt({"phrase": c}, model.codec, size) for c in unnamed]
    said = model.generate([image] * len(prompts), prompts, max_new_tokens=4) if prompts else []
    present = [c for c, s in zip(unnamed, said, strict=True) if s.lower().startswith("yes")]
    unasked = _grounded(model, image, unnamed, size)  # every unnamed one, present or not
    new = detect.completed(listed, {c: unasked[c] for c in present})
    more = _grounded(model, image, named, size)
    every = {c: {**unasked, **more}[c] for c in model.sidecar.vocabulary}
    ways = {
        WAYS[0]: listed,
        WAYS[1]: [*listed, *new],
        WAYS[2]: [*listed, *detect.completed(listed, more)],
        WAYS[3]: [*listed, *new, *detect.completed([*listed, *new], more)],
        WAYS[4]: [*listed, *detect.completed(listed, every)],
    }
    return ways, len(prompts)


def main() -> None:
    """Judge every way on the benchmark's detection rows and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, action="append", required=True)
    parser.add_argument("--model", default="default")
    parser.add_argument("--answers", type=Path, help="a locvlm eval run's saved answers")
    parser.add_argument("--limit", type=int, help="only the first N detection rows")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    rows = [r for r in load_rows(args.bench) if r["task"] == "detect"][: args.limit]
    saved = {r["id"]: r["text"] for r in (load(args.answers) if args.answers else [])}
    counts: Counter[tuple[str, str]] = Counter()
    start, asked = time.time(), 0
    for row in rows:
        ways, n = looks(model, row, saved.get(row["id"]))
        asked += n
        for way, got in ways.items():
            judged = detect.judged(got, row["expected"])
            counts.update({(way, k): v for k, v in judged.said.items()})
            counts[way, "right"] += judged.correct
    print(f"{len(rows)} images, {asked} presence questions, {time.time() - start:.0f} s\n")
    print("| way | precision | recall | images right |\n|---|---|---|---|")
    for way in WAYS:
        matched = counts[way, "matched"]
        precision = matched / max(counts[way, "predicted"], 1)
        recall = matched / max(counts[way, "expected"], 1)
        right = counts[way, "right"] / max(len(rows), 1)
        print(f"| {way} | {precision:.3f} | {recall:.3f} | {right:.3f} |")


if __name__ == "__main__":
    main()
