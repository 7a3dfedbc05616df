"""Data pipeline throughput: shapes scenes/s and instruction samples/s on one core.

    python bench/data.py [--seconds 2] [--out bench/results/data.json]

Scenes are drawn at 128x128 (the training size) without writing files, the figure the
on-the-fly trainer sees; the dataset writer (PNG encoding included) is measured too.
Target: >= 300 scenes/s at 128 px.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from locvlm.data.coco import ImageRecord
from locvlm.data.instructions import InstructConfig, sample_turns, to_scene
from locvlm.data.negatives import NegativeSampler
from locvlm.data.shapes import CATEGORIES, ShapesConfig, render_scene
from locvlm.data.shapes_writer import write_shapes_dataset

TARGET_SCENES_PER_S = 300


def _rate(fn: Callable[[int], int], seconds: float) -> float:
    done, start, i = 0, time.perf_counter(), 0
    while (elapsed := time.perf_counter() - start) < seconds:
        done += fn(i)
        i += 1
    return done / elapsed


def scenes_per_s(seconds: float) -> float:
    """Scenes drawn per second at 128 px, in memory."""
    config = ShapesConfig(size=(128, 128))
    return _rate(lambda i: len(render_scene((0, i), config)) and 1, seconds)


def written_scenes_per_s(n: int = 300) -> float:
    """Scenes per second through the COCO dataset writer (PNG files included)."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_shapes_dataset(Path(tmp) / "d", n, seed=0)
        return n / (time.perf_counter() - start)


def instruction_samples_per_s(seconds: float) -> float:
    """Instruction turns drawn per second by `sample_turns`, as the trainer does on the fly.

    200 shapes scenes at 128 px, the default config (IVB-100, default mix, 4 turns per
    image, random negatives); the codec and the negatives sampler are built once.
    """
    records = _shape_records(200)
    scenes = [to_scene(record) for record in records]
    config = InstructConfig(seed=0)
    codec = config.make_codec()
    negatives = NegativeSampler.from_records(records, CATEGORIES, config.negatives)
    rng = random.Random(0)

    def run(i: int) -> int:
        scene = scenes[i % len(scenes)]
        return len(sample_turns(scene, codec, rng, CATEGORIES, config, negatives))

    return _rate(run, seconds)


def _shape_records(n: int) -> list[ImageRecord]:
    out = []
    for i in range(n):
        image, objects = render_scene((1, i))
        pairs = tuple((o.category, o.box) for o in objects)
        out.append(ImageRecord(i, f"{i}.png", image.width, image.height, pairs))
    return out


def main() -> None:
    """Run the benchmark and write its JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/data.json"))
    args = parser.parse_args()
    scenes = scenes_per_s(args.seconds)
    written = written_scenes_per_s()
    samples = instruction_samples_per_s(args.seconds)
    report = {
        "command": "python bench/data.py",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "scenes_per_s_128px": round(scenes),
        "written_scenes_per_s_128px": round(written),
        "instruction_samples_per_s": round(samples),
        "target": {"scenes_per_s": TARGET_SCENES_PER_S, "met": scenes >= TARGET_SCENES_PER_S},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
