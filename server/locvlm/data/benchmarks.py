"""Benchmarks from any COCO-format dataset (shapes or real COCO), as JSONL rows.

    locvlm data bench --kind leftright,pope,grounding --coco D/annotations.json --images D \
        --seed 0 --out bench.jsonl

Every row has the same fields; `args` are the task's prompt inputs in pixels of the
image as shown (mirrored when `hflip`), `expected` the structured answer:

    {"id": "pope/12/0", "bench": "pope", "task": "exists", "image": "D/images/000012.png",
     "size": [128, 128], "hflip": false, "args": {"phrase": "red circle"},
     "expected": {"answer": "yes"}, "group": null, "split": "random"}

Kinds: `leftright` and `abovebelow` (`bench_spatial`), `pope` (`exists`, per image as
many absent categories as present ones, `split` random/popular/adversarial),
`grounding` (`locpred`: every box of a phrase; with `negatives`, `negpred` rows of
absent phrases with no boxes), `region` (`revloc`: box -> category; `region`: box ->
category and every `valid` relation to one of its `region.partners`: objects whose
category appears once when one relates to it, else any other),
`counting` (absent categories, count 0, now and then), `detection` (`detect`: every
object with its box, scored by precision and recall) and `motion` (`bench_motion`).
Categories that a crowd region shows are never asked as absent, grounded or counted.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from locvlm.data._bench import BenchImage, BenchOptions, BenchSource, Kind, per_image, row
from locvlm.data._rows import Row, box_list
from locvlm.data.bench_motion import MOTION
from locvlm.data.bench_spatial import SPATIAL_KINDS
from locvlm.data.coco import CocoDataset
from locvlm.data.negatives import STRATEGIES
from locvlm.tasks import region
from locvlm.tasks._text import yes_or_no
from locvlm.tasks.base import defined_relations

__all__ = ["BENCHMARKS", "BenchOptions", "build_benchmarks", "count_units", "parse_kinds"]


def _pope(source: BenchSource, image: BenchImage, rng: random.Random) -> Iterator[Row]:
    splits = [source.options.negatives] if source.options.negatives else list(STRATEGIES)
    present = source.pick(rng, image.askable)  # the same positives in every split, as POPE
    for split in splits:
        absent = source.sampler(split).sample(image.present, len(present), rng)
        asked = [(p, True) for p in present[: len(absent)]] + [(a, False) for a in absent]
        for phrase, shown in asked:
            answer = {"answer": yes_or_no(shown)}
            yield row(image.media, "exists", {"phrase": phrase}, answer, split=split)


def _grounding(source: BenchSource, image: BenchImage, rng: random.Random) -> Iterator[Row]:
    phrases = source.pick(rng, image.askable)
    for phrase in phrases:
        boxes = [box_list(obj.box) for obj in image.scene.instances(phrase)]
        yield row(image.media, "locpred", {"phrase": phrase}, {"boxes": boxes})
    split = source.options.negatives
    if split is None:
        return
    for phrase in source.sampler(split).sample(image.present, max(1, len(phrases)), rng):
        yield row(image.media, "negpred", {"phrase": phrase}, {"boxes": []}, split=split)


def _region(source: BenchSource, image: BenchImage, rng: random.Random) -> Iterator[Row]:
    for target in source.pick(rng, image.scene.ordered):
        args = {"box": box_list(target.box)}
        yield row(image.media, "revloc", args, {"category": target.category})
        valid = [
            [rel.value, other.category]
            for other in region.partners(image.scene, target)
            if other.category not in image.crowd
            for rel in defined_relations(target, other)
        ]
        expected = {"category": target.category, "valid": valid}
        yield row(image.media, "region", args, expected)


def _counting(source: BenchSource, image: BenchImage, rng: random.Random) -> Iterator[Row]:
    phrases = source.pick(rng, image.askable)
    if rng.random() < source.options.absent_rate:
        phrases += source.sampler().sample(image.present, 1, rng)
    for phrase in phrases:
        count = {"count": image.scene.count(phrase)}
        yield row(image.media, "counting", {"phrase": phrase}, count)


def _detection(source: BenchSource, image: BenchImage, rng: random.Random) -> Iterator[Row]:
    if image.crowd:  # a crowd region's objects are not boxed one by one: nothing to score
        return
    objects = [{"category": o.category, "box": box_list(o.box)} for o in image.scene.ordered]
    yield row(image.media, "detect", {}, {"objects": objects})


BENCHMARKS: dict[str, Kind[Any]] = {
    **SPATIAL_KINDS,
    "pope": per_image(_pope),
    "grounding": per_image(_grounding),
    "region": per_image(_region),
    "counting": per_image(_counting),
    "detection": per_image(_detection),
    "motion": MOTION,
}
"""Every benchmark kind by name."""


def parse_kinds(text: str) -> list[str]:
    """`"leftright,pope"` -> `["leftright", "pope"]`, each a known kind.

    Raises:
        ValueError: for an unknown or missing kind.
    """
    kinds = [kind.strip() for kind in text.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in BENCHMARKS]
    if unknown or not kinds:
        named = ", ".join(unknown) or repr(text)
        raise ValueError(f"unknown benchmark kind(s) {named}; known: {', '.join(BENCHMARKS)}")
    return list(dict.fromkeys(kinds))


def count_units(dataset: CocoDataset, kinds: Sequence[str]) -> int:
    """How many images (clips for motion) `build_benchmarks` goes through."""
    return sum(BENCHMARKS[kind].count(dataset) for kind in kinds)


def build_benchmarks(
    dataset: CocoDataset,
    kinds: Sequence[str],
    options: BenchOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Row]:
    """The rows of each kind in turn, image by image (clip by clip for motion).

    Row ids are `"{kind}/{image or video id}/{index}"`, and `".../{split}"` with
    `negatives`, so that the files of each split can be evaluated together. `progress` is
    called once per image (or clip) done.
    """
    source = BenchSource(dataset, options or BenchOptions())
    suffix = f"/{source.options.negatives}" if source.options.negatives else ""
    for name in kinds:
        kind = BENCHMARKS[name]
        for unit in kind.units(source):
            rows = kind.rows(source, unit, source.rng(name, unit.key))
            for index, found in enumerate(rows):
                yield {"id": f"{name}/{unit.key}/{index}{suffix}", "bench": name, **found}
            if progress is not None:
                progress(1)
