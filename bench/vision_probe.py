"""What a run's frozen vision tower already knows about each object, by object size.

    python bench/vision_probe.py --run runs/k2/seed-0 [--scenes 600] [--seed 616161]

Stage 0 trains throw-away heads on the tower's patch features (`train.stage0`): per
patch, the category of the object that owns it and that object's four edge bins. The
tower is frozen after stage 0 (`freeze_vision`), so the heads read what every later
stage sees. On fresh scenes (a seed never used in training, every size and aspect), each
object is read from the patch it owns most (`stage0.owners`): its category, and its box
from that patch's edge bins, right at IoU > 0.5: a readout with no language model.
Beside the checkpoint's own answers by the same size buckets (`bench/misses.py`), it
says whether a miss is the tower's (what it can resolve) or the language model's
(finding and copying the right patch). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from locvlm.eval.metrics import SIZE_EDGES, size_bucket
from locvlm.model.build import image_stats
from locvlm.model.config import get_preset
from locvlm.model.inputs import pixels
from locvlm.tasks import Scene
from locvlm.train.scenes import SceneStream
from locvlm.train.stage0 import DenseHeads, owners
from locvlm_client import Box

BUCKETS = [f"<{e:g}" for e in SIZE_EDGES] + [f">={SIZE_EDGES[-1]:g}"]


def _read(cats: np.ndarray, edges: np.ndarray, scene: Scene, grid: int, bins: int,
          ids: dict[str, int]) -> list[tuple[str, bool, bool]]:  # fmt: skip
    """Per object: its size bucket, category right, box right (IoU > 0.5)."""
    owner = owners(scene, grid)
    width, height = scene.size
    out = []
    for k, obj in enumerate(scene.objects):
        mine = np.flatnonzero(owner == k)
        if not len(mine):
            continue
        share = [obj.box.intersection(_cell(int(p), grid, scene.size)) for p in mine]
        patch = mine[int(np.argmax(share))]
        x1, y1, x2, y2 = ((edges[patch] + 0.5) / bins).tolist()
        box = Box.from_corners(x1 * width, y1 * height, x2 * width, y2 * height)
        bucket = size_bucket(obj.box.to_xyxy(), scene.size)
        out.append((bucket, bool(cats[patch] == ids[obj.category]), box.iou(obj.box) > 0.5))
    return out


def _cell(patch: int, grid: int, size: tuple[int, int]) -> Box:
    row, col = divmod(patch, grid)
    w, h = size[0] / grid, size[1] / grid
    return Box(x1=col * w, y1=row * h, x2=(col + 1) * w, y2=(row + 1) * h)


def probe(run: Path, scenes: int, seed: int) -> str:
    """The markdown table of the tower's readout on `scenes` fresh scenes."""
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    state = torch.load(run / "state.pt", map_location="cpu", weights_only=False)
    config = json.loads((run / "train_config.json").read_text())
    preset = get_preset(config["preset"], **dict(config.get("model") or {}))
    model = LlavaForConditionalGeneration(LlavaConfig.from_pretrained(run / "model"))
    model.load_state_dict(state["model"])  # the weights once: the run's checkpoint
    tower = model.model.vision_tower.eval()
    bins = int((config.get("codec") or preset.codec).get("bins", 32))
    stream = SceneStream(seed=seed)
    heads = DenseHeads(preset.vision.hidden, bins, stream.vocabulary)
    heads.load_state_dict(state["heads"])
    grid = preset.vision.image_size // preset.vision.patch_size
    mean, std = image_stats()
    counts: Counter[tuple[str, str]] = Counter()
    for _ in range(0, scenes, 32):
        batch = [stream.next() for _ in range(32)]
        px = pixels([im for im, _ in batch], preset.vision.image_size, mean, std)
        with torch.no_grad():
            feats = tower(px, output_hidden_states=True).hidden_states[-1][:, 1:]
            cat_logits, edge_logits = heads(feats)
        for i, (_, scene) in enumerate(batch):
            for bucket, cat_ok, box_ok in _read(cat_logits[i].argmax(-1).numpy(),
                                                edge_logits[i].argmax(-1).numpy(), scene,
                                                grid, bins, heads.ids):  # fmt: skip
                counts[bucket, "n"] += 1
                counts[bucket, "category"] += cat_ok
                counts[bucket, "box"] += box_ok
                counts[bucket, "both"] += cat_ok and box_ok
    head = "| tower readout | " + " | ".join(BUCKETS) + " |\n|---|" + "---|" * len(BUCKETS)
    lines = [head]
    for what in ("category", "box", "both"):
        cells = [f"{counts[b, what] / counts[b, 'n']:.3f} ({counts[b, 'n']})"
                 if counts[b, "n"] else "-" for b in BUCKETS]  # fmt: skip
        lines.append(f"| {what} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Probe the run's tower and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a run folder with state.pt")
    parser.add_argument("--scenes", type=int, default=600)
    parser.add_argument("--seed", type=int, default=616_161, help="never used in training")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(probe(args.run, args.scenes, args.seed), end="")


if __name__ == "__main__":
    main()
