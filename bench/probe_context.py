"""Does a model ground from an earlier turn's text instead of the image?

    python bench/probe_context.py runs/r13/model [--n 120] [--seed 4242]

Training packs several questions about one image into one conversation, so a later
question's answer can sometimes be read from an earlier answer (a listing, an evidence
box) rather than from the image, while validation and serving ask one question at a time.
This asks `--n` present-phrase grounding questions three ways: alone; after a first turn
"List every object." answered with the true listing; and after one answered with the
boxes shuffled among the objects (the text contradicts the image). A model that copies
from the context scores higher after the true listing and lower after the shuffled one.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import torch
from PIL import Image

from locvlm.model.loading import greedy_rows, load_model
from locvlm.tasks import TASKS, Obj, Scene, detect
from locvlm.tasks.scoring import correct
from locvlm.train.scenes import SceneStream


def main() -> None:
    """Ask the questions three ways and print how many are right each way."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--n", type=int, default=120, help="grounding questions")
    parser.add_argument("--seed", type=int, default=4242, help="scenes and questions")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model)
    stream, rng = SceneStream(seed=args.seed), random.Random(args.seed)
    items: list[tuple[Image.Image, Scene, str, object]] = []
    while len(items) < args.n:
        image, scene = stream.next()
        turn = TASKS["locpred"].sample(scene, lm.codec, rng, stream.vocabulary)
        if turn is not None and turn.expected is not None and "There is no" not in turn.answer:
            items.append((image, scene, turn.prompt, turn.expected))
    enc = lm.encoder
    for mode in ("alone", "after the true listing", "after a shuffled listing"):
        rows = []
        for _, scene, question, _ in items:
            if mode == "alone":
                rows.append(enc.prompt_ids(question))
                continue
            objects = list(scene.ordered)
            boxes = [o.box for o in objects]
            if mode == "after a shuffled listing":
                rng.shuffle(boxes)
            said = detect.listing([Obj(o.category, b) for o, b in zip(objects, boxes, strict=True)],
                                  lm.codec, scene.size)  # fmt: skip
            rows.append(enc.prompt_ids("List every object.") + enc.answer_ids(said)
                        + enc.follow_up_ids(question))  # fmt: skip
        texts: list[str] = []
        for start in range(0, len(rows), 40):
            images = [i for i, *_ in items[start : start + 40]]
            texts += greedy_rows(lm.model, enc, images, rows[start : start + 40], 40)
        right = sum(
            correct(TASKS["locpred"].read(text, lm.codec, scene.size, stream.vocabulary), expected)
            for text, (_, scene, _, expected) in zip(texts, items, strict=True)
        )
        print(f"{args.model}: {mode}: {right} / {len(items)}", flush=True)


if __name__ == "__main__":
    main()
