"""Does `/v1/detect`'s confidence tell right detections from wrong ones?

    python bench/detect_confidence.py [--model default] [--scenes 300] [--seed 717171] \
        [--out bench/results/detect-confidence]

Renders held-out shapes scenes of every size and aspect of the contract (`--seed` is
outside every training stream), asks the serving layer's `detect` (what `/v1/detect`
answers, through the in-process transformers engine), and matches each detection to the
truth as detection benchmarks do: in descending confidence, to an unmatched object of the
same category at IoU >= 0.5. Reports the mean confidence of right and wrong detections,
AUROC (the chance that a right one outscores a wrong one), average precision (area under
the precision-recall curve the confidence orders) against the precision of the list as it
comes, and precision and recall kept above a few thresholds. Writes JSON + markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from _report import save

from locvlm.data.shapes import SceneObject, ShapesConfig, render_scene
from locvlm.engines.config import EngineConfig
from locvlm.engines.transformers_engine import TransformersEngine
from locvlm.serving.context import ServingContext
from locvlm.serving.detect import detect
from locvlm_client import Detection

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)


def match(detections: list[Detection], truth: list[SceneObject]) -> list[tuple[float, bool]]:
    """(confidence, right) per detection, matched in descending confidence.

    Each takes the unmatched object of its category it overlaps most, at IoU >= 0.5.
    """
    left = list(truth)
    out = []
    for d in sorted(detections, key=lambda d: -(d.confidence or 0.0)):
        ious = [(o.box.iou(d.box), k) for k, o in enumerate(left) if o.category == d.label]
        best = max(ious, default=(0.0, -1))
        right = best[0] >= 0.5
        if right:
            left.pop(best[1])
        out.append((d.confidence or 0.0, right))
    return out


def auroc(scored: list[tuple[float, bool]]) -> float | None:
    """P(a right detection's confidence > a wrong one's), ties counted half."""
    right = [c for c, ok in scored if ok]
    wrong = [c for c, ok in scored if not ok]
    if not right or not wrong:
        return None
    wins = sum((r > w) + 0.5 * (r == w) for r in right for w in wrong)
    return wins / (len(right) * len(wrong))


def average_precision(scored: list[tuple[float, bool]], objects: int) -> float:
    """Area under the precision-recall curve, detections in descending confidence."""
    ap = hits = 0.0
    for k, (_, ok) in enumerate(sorted(scored, key=lambda s: -s[0]), start=1):
        if ok:
            hits += 1
            ap += hits / k
    return ap / objects if objects else 0.0


def summary(scored: list[tuple[float, bool]], objects: int) -> dict[str, Any]:
    """The report's numbers (see the module docstring)."""
    right = [c for c, ok in scored if ok]
    wrong = [c for c, ok in scored if not ok]
    kept = {}
    for t in THRESHOLDS:
        above = [ok for c, ok in scored if c >= t]
        kept[str(t)] = {
            "kept": len(above),
            "precision": sum(above) / len(above) if above else None,
            "recall": sum(above) / objects if objects else None,
        }
    return {
        "detections": len(scored), "objects": objects, "right": len(right),
        "precision": len(right) / len(scored) if scored else None,
        "recall": len(right) / objects if objects else None,
        "mean_confidence_right": sum(right) / len(right) if right else None,
        "mean_confidence_wrong": sum(wrong) / len(wrong) if wrong else None,
        "auroc": auroc(scored), "average_precision": average_precision(scored, objects),
        "thresholds": kept,
    }  # fmt: skip


async def run(model: str, scenes: int, seed: int) -> dict[str, Any]:
    """Detect on `scenes` held-out scenes; the summary."""
    config = replace(EngineConfig(model=model), child_process=False)
    scored: list[tuple[float, bool]] = []
    objects = 0
    async with TransformersEngine.open(config) as engine:
        ctx = ServingContext(engine, engine.sidecar, config.max_new_tokens)
        for i in range(scenes):
            image, truth = render_scene((seed, i), ShapesConfig(size=None))
            answer = await detect(ctx, image)
            scored += match(answer.detections, truth)
            objects += len(truth)
    return summary(scored, objects)


def markdown(report: dict[str, Any]) -> str:
    """The report as a markdown table."""

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = [
        f"`{report['command']}`", "",
        f"{report['detections']} detections of {report['objects']} objects in "
        f"{report['scenes']} scenes: precision {f(report['precision'])}, recall "
        f"{f(report['recall'])}; mean confidence right {f(report['mean_confidence_right'])}, "
        f"wrong {f(report['mean_confidence_wrong'])}; AUROC {f(report['auroc'])}; "
        f"average precision {f(report['average_precision'])}.", "",
        "| confidence >= | kept | precision | recall |", "|---|---|---|---|",
    ]  # fmt: skip
    for t, row in report["thresholds"].items():
        lines.append(f"| {t} | {row['kept']} | {f(row['precision'])} | {f(row['recall'])} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run, write the JSON and markdown reports, print the markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--scenes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=717171)
    parser.add_argument("--out", type=Path, default=Path("bench/results/detect-confidence"))
    args = parser.parse_args()
    if args.scenes < 1:
        parser.error("--scenes must be at least 1")
    report = asyncio.run(run(args.model, args.scenes, args.seed))
    command = shlex.join(["python", "bench/detect_confidence.py", *sys.argv[1:]])
    report |= {"scenes": args.scenes, "model": args.model, "command": command}
    save(args.out, report, markdown)


if __name__ == "__main__":
    main()
