"""Training and evaluation throughput of the `tiny-shapes` preset on this machine.

    python bench/train.py [--steps 30] [--threads 2] [--out bench/results/train.json]

Times the real step functions of the trainer (stage 0 on the vision tower, stage 2 on
projector + LM with the default task mix) and greedy generation on held-out questions,
after a few warm-up steps. Samples are images (stage 0) or question-answer turns.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import torch

from locvlm.train.config import TrainConfig
from locvlm.train.trainer import Trainer


def _steps_per_s(step, params, steps: int, bf16: bool) -> float:  # type: ignore[no-untyped-def]
    opt = torch.optim.AdamW(params, lr=1e-4)
    for i in range(steps + 3):
        if i == 3:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):  # as the trainer does
            loss, _ = step()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return steps / (time.perf_counter() - start)


def main() -> None:
    """Measure and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/train.json"))
    args = parser.parse_args()
    cfg = TrainConfig(threads=args.threads, eval_per_task=10)
    with TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, tmp, show_progress=False)
        rates = {}
        for stage in (trainer.stages[0], trainer.stages[-1]):  # vision, then projector + LM
            rates[stage.name] = _steps_per_s(
                stage.step, stage.train_only(trainer.model), args.steps, trainer.bf16
            )
        s0, s2 = rates["stage0"], rates["stage2"]
        start = time.perf_counter()
        trainer.validate(0)
        eval_rate = len(trainer.val_items) / (time.perf_counter() - start)
    report = {
        "command": "python bench/train.py",
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "params_m": round(sum(p.numel() for p in trainer.model.parameters()) / 1e6, 2),
        "stage0_images_per_s": round(s0 * cfg.stage0.batch_size, 1),
        "stage2_turns_per_s": round(s2 * cfg.stage2.batch_size, 1),
        "stage2_steps_per_s": round(s2, 2),
        "eval_questions_per_s": round(eval_rate, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
