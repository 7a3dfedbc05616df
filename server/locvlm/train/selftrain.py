"""Self-training, the paper's pseudo-data: rounds of label -> filter -> fine-tune -> measure.

    locvlm selftrain --model default --scenes 300 --rounds 2 --out runs/self [--steps 400]

Each round draws `scenes` shapes scenes the model has never seen (a stream of their own),
labels them with the model itself (`pseudo.Labeller`: detect, RevLoc round trip, mirror
image, grounding), keeps the scenes whose every object passed, and fine-tunes the
projector and the LM on questions built from the kept labels only: contextual region
descriptions, RevLoc, and spatial questions, relations computed from the pseudo boxes.
No annotation is read, except to measure the pseudo-labels' precision. Before the first
round and after each, held-out questions (region description, RevLoc, spatial side and
yes/no) are scored, from scenes of the trainer's validation seed.

Writes `OUT/round-K/` (a model folder `locvlm eval`/`serve` load), `OUT/log.jsonl`, and
`OUT/report.json` + `report.md`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from transformers import AutoProcessor

from locvlm.model.loading import LoadedModel, load_model, resolve_model_dir
from locvlm.tasks.spatial import evidence_form
from locvlm.train.config import StageConfig
from locvlm.train.conversation import conversation
from locvlm.train.loop import Log, StageRunner, native_bf16
from locvlm.train.pseudo import Labelled, Labeller, label_precision
from locvlm.train.scenes import SceneStream
from locvlm.train.stage import Stage
from locvlm.train.trainer import VALIDATION_SEED
from locvlm.train.validate import validate, validation_set

__all__ = ["SelfTrainConfig", "SelfTrainer"]

SCENE_SEED = 424_243  # the unlabeled scenes: neither a training nor a validation seed


def _tasks(evidence: bool) -> dict[str, float]:
    """What the kept labels teach, by weight: the paper's pseudo region descriptions first."""
    return {
        "region": 2.0,
        "revloc": 1.0,
        evidence_form("spatial_side", evidence): 1.0,
        evidence_form("spatial_yes_no", evidence): 1.0,
    }


@dataclass(frozen=True)
class SelfTrainConfig:
    """A self-training run."""

    scenes: int = 300  # unlabeled scenes labelled per round
    rounds: int = 2
    steps: int = 300  # fine-tuning steps per round (batch_size images x turns questions)
    lr: float = 2e-4  # a fifth of stage 2's peak: the model is trained already
    batch_size: int = 16
    turns: int = 4
    eval_per_task: int = 200  # held-out questions per task, before and after each round
    seed: int = 0
    threads: int = 2
    tasks: dict[str, float] | None = None  # None: `_tasks` for the model's answer format


@dataclass
class SelfTrainer:
    """Runs the rounds on a loaded model, in place; `run` returns the report."""

    model: LoadedModel
    config: SelfTrainConfig
    out: Path
    source: Path  # the model's folder: its processor files are copied into each round's
    show_progress: bool = False
    log: Log = field(init=False)

    def __post_init__(self) -> None:
        torch.set_num_threads(self.config.threads)
        self.out.mkdir(parents=True, exist_ok=True)
        self.log = Log(self.out / "log.jsonl")
        self.rng = random.Random(self.config.seed)
        self.vocabulary = list(self.model.sidecar.vocabulary) or list(SceneStream.vocabulary)
        self.tasks = self.config.tasks or _tasks(self.model.sidecar.spatial_evidence)
        self.val_items = validation_set(list(self.tasks), self.model.codec,
                                        self.config.eval_per_task, VALIDATION_SEED,
                                        self.vocabulary)  # fmt: skip

    def measure(self) -> dict[str, float]:
        """Held-out accuracy per task now."""
        m = self.model
        scores = validate(m.model, m.encoder, m.codec, self.val_items, self.vocabulary)
        return {k: round(v, 4) for k, v in scores.items()}

    def label(self, round_: int) -> tuple[list[Labelled], dict[str, float]]:
        """Label this round's unlabeled scenes; the labels and their precision."""
        stream = SceneStream(seed=SCENE_SEED + round_)
        drawn = [stream.next() for _ in range(self.config.scenes)]
        self.model.model.eval()
        labelled = Labeller(self.model).label([image for image, _ in drawn])
        return labelled, label_precision(labelled, [scene for _, scene in drawn])

    def fine_tune(self, kept: Sequence[Labelled], round_: int) -> None:
        """`steps` steps on questions drawn from the kept scenes (projector and LM)."""
        m, c = self.model.model, self.config
        stage = StageConfig(steps=c.steps, lr=c.lr, batch_size=c.batch_size,
                            warmup=min(20, c.steps // 5))  # fmt: skip

        def step() -> tuple[torch.Tensor, dict[str, float]]:
            items: list[tuple[Image.Image, list[tuple[str, str]]]] = []
            while len(items) < c.batch_size:
                x = self.rng.choice(kept)
                said = conversation(
                    x.scene,
                    list(self.tasks),
                    list(self.tasks.values()),
                    c.turns,
                    self.model.codec,
                    self.rng,
                    lambda _: self.vocabulary,
                )
                if said:
                    items.append((x.image, said))
            batch = self.model.encoder.conversations(items)
            return m(**batch.as_kwargs()).loss, {}

        tuned = Stage(f"selftrain-{round_}", stage, lambda: [m.model.multi_modal_projector,
                      m.model.language_model, m.lm_head], step)  # fmt: skip
        params = tuned.train_only(m)
        m.train()
        runner = StageRunner(tuned.name, stage, params, self.log, self.show_progress,
                             bf16=native_bf16())  # fmt: skip
        runner.run(step)
        m.eval()

    def save(self, round_: int) -> Path:
        """The model as it is now, in a folder `load_model` (eval, serve) reads."""
        folder = self.out / f"round-{round_}"
        self.model.model.save_pretrained(folder)
        AutoProcessor.from_pretrained(self.source).save_pretrained(folder)
        training = {**self.model.sidecar.training, "selftrain": asdict(self.config),
                    "selftrain_round": round_}  # fmt: skip
        self.model.sidecar.replace(training=training).write(folder)
        return folder

    def run(self) -> dict[str, Any]:
        """Measure, then each round: label, fine-tune on the kept scenes, save, measure."""
        rounds: list[dict[str, Any]] = [{"round": 0, "scores": self.measure()}]
        self.log.write(stage="selftrain", round=0, **rounds[0]["scores"])
        for k in range(1, self.config.rounds + 1):
            labelled, precision = self.label(k)
            kept = [x for x in labelled if x.complete]
            self.log.write(stage="labels", round=k, **precision)
            if not kept:
                rounds.append({"round": k, "labels": precision, "scores": None})
                break
            self.fine_tune(kept, k)
            folder = self.save(k)
            scores = self.measure()
            self.log.write(stage="selftrain", round=k, **scores)
            rounds.append({"round": k, "labels": precision, "scores": scores,
                           "model": str(folder)})  # fmt: skip
        report = {"config": asdict(self.config), "tasks": self.tasks, "rounds": rounds}
        (self.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        (self.out / "report.md").write_text(markdown(report))
        return report

    @classmethod
    def from_model(cls, name: str | Path, config: SelfTrainConfig, out: Path,
                   show_progress: bool = False) -> SelfTrainer:  # fmt: skip
        """Load `name` (a model folder, or `default`) in fp32 for training."""
        return cls(load_model(name), config, Path(out), resolve_model_dir(name), show_progress)


def markdown(report: dict[str, Any]) -> str:
    """Per round: the pseudo-labels' counts and precision, then held-out accuracy per task."""
    tasks = list(report["tasks"])
    lines = [
        "| round | scenes kept / labelled | objects kept / listed | precision listed / kept | "
        + " | ".join(tasks)
        + " |",
        "|---|---|---|---|" + "---|" * len(tasks),
    ]
    for r in report["rounds"]:
        lab = r.get("labels")
        counts = ("-", "-", "-") if lab is None else (
            f"{lab['complete_scenes']} / {lab['scenes']}", f"{lab['kept']} / {lab['listed']}",
            f"{lab['listed_precision']:.3f} / {lab['kept_precision']:.3f}")  # fmt: skip
        scores = r["scores"] or {}
        cells = " | ".join(f"{scores[t]:.3f}" if t in scores else "-" for t in tasks)
        lines.append(f"| {r['round']} | {' | '.join(counts)} | {cells} |")
    return "\n".join(lines) + "\n"
