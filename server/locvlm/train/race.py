"""Seeds raced: a recipe whose take-off is left to chance, made dependable.

A from-scratch run of the recipe either takes off (its LM starts reading the image tokens,
somewhere between stage-2 steps 4,000 and 7,000) or never does: the same recipe ended at
grounding 0.72, 0.75, 0.64 and 0.33 in four runs (docs/results.md). With `seeds` > 1 the
runs of seeds `seed`, `seed` + 1, ... start at once, one torch thread each (on two cores
two one-thread runs outpace one two-thread run), and pause at stage-2 step `pick_at`
after validating. The one with the best mean validation score goes on alone on all
`threads` to the end; the others stay paused. A failed take-off is visible by then
(validation at chance on RevLoc and relations), so a race of two fails only when both do.

`OUT/seed-N` holds each entrant's run, `OUT/race.json` the scores and the winner, and
`OUT/model` the winner's model. Run again, the command resumes wherever the race was.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from locvlm.train.config import TrainConfig

__all__ = ["entrant_config", "race", "validation_score"]

NOT_SCORES = {"t", "stage", "step", "parse_failures"}


def entrant_config(config: TrainConfig, seed: int) -> TrainConfig:
    """One entrant's recipe: `config` for `seed`, on one thread, pausing at `pick_at`."""
    return replace(config, seed=seed, seeds=1, threads=1, pause_at=config.pick_at)


def validation_score(log: Path, step: int) -> float | None:
    """The mean of the task scores of the run's (last) validation at stage-2 `step`."""
    found: dict[str, Any] | None = None
    for line in log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("stage") == "validation" and record.get("step") == step:
            found = record
    if found is None:
        return None
    scores = [float(v) for k, v in found.items() if k not in NOT_SCORES]
    return sum(scores) / len(scores) if scores else None


def _launch(folder: Path, config: TrainConfig) -> subprocess.Popen[bytes]:
    """`locvlm train` of one entrant in its own process, its output in `train.out`."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = folder / "entrant.json"
    settings.write_text(config.to_json() + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "locvlm", "train", "--out", str(folder),
               "--config", str(settings), "--no-progress"]  # fmt: skip
    with (folder / "train.out").open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def _pick(config: TrainConfig, out: Path) -> int:
    """Run the entrants to `pick_at` (or find them there); record and return the winner."""
    record = out / "race.json"
    if record.exists():
        return int(json.loads(record.read_text(encoding="utf-8"))["winner"])
    seeds = [config.seed + k for k in range(config.seeds)]
    running = {s: _launch(out / f"seed-{s}", entrant_config(config, s)) for s in seeds}
    failed = {s: code for s, p in running.items() if (code := p.wait()) != 0}
    if failed:
        raise RuntimeError(f"race entrants failed (seed: exit code) {failed}; "
                           f"see {out}/seed-N/train.out")  # fmt: skip
    scores = {s: validation_score(out / f"seed-{s}" / "log.jsonl", config.pick_at) for s in seeds}
    if any(v is None for v in scores.values()):
        raise RuntimeError(f"an entrant has no validation at step {config.pick_at}: {scores}")
    winner = max(seeds, key=lambda s: (scores[s] or 0.0, -s))
    record.write_text(json.dumps({"pick_at": config.pick_at, "scores": scores,
                                  "winner": winner}, indent=2) + "\n")  # fmt: skip
    return winner


def race(config: TrainConfig, out: Path, show_progress: bool = True) -> Path:
    """Race `config.seeds` seeds to `pick_at`, finish the best; returns `OUT/model`.

    Raises:
        ValueError: `pick_at` is not inside stage 2.
        RuntimeError: an entrant failed, or did not validate at `pick_at`.
    """
    from locvlm.train.trainer import Trainer  # torch: only when training

    if not 0 < config.pick_at < config.stage2.steps:
        raise ValueError(f"pick_at ({config.pick_at}) must be inside stage 2 "
                         f"(1..{config.stage2.steps - 1})")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    winner = _pick(config, out)
    folder = out / f"seed-{winner}"
    trainer = Trainer(replace(config, seed=winner, seeds=1), folder, show_progress)
    trainer.load_state()
    model = trainer.run()
    assert model is not None  # no pause_at: it runs to the end
    shutil.copytree(model, out / "model", dirs_exist_ok=True)
    return out / "model"
