"""`locvlm train`: run the training recipe from a preset.

locvlm train --preset tiny-shapes --out runs/tiny
locvlm train --preset tiny-shapes --steps 200 --out runs/quick --codec ivb
locvlm train --preset tiny-shapes --out runs/x --set stage2.lr=5e-4 --config overrides.yaml
locvlm train --out runs/race --set seeds=2 --set pick_at=6000   # train/race.py
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from locvlm.assignments import parse_assignments
from locvlm.train.config import TrainConfig, apply_overrides, load_overrides

__all__ = ["train"]


def _scaled(config: TrainConfig, steps: int) -> TrainConfig:
    """Stage 2 runs `steps`; stages 0 and 1 shrink in proportion (never grow)."""
    factor = min(1.0, steps / config.stage2.steps)
    return replace(
        config,
        stage0=replace(config.stage0, steps=max(1, round(config.stage0.steps * factor))),
        stage1=replace(config.stage1, steps=round(config.stage1.steps * factor)),
        stage2=replace(config.stage2, steps=steps, warmup=min(config.stage2.warmup, steps // 5)),
        eval_every=min(config.eval_every, steps),
        checkpoint_every=min(config.checkpoint_every, steps),
    )


def train(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Run folder (resumes if it has state.pt).")
    ],
    preset: Annotated[str, typer.Option(help="Model preset.")] = "tiny-shapes",
    steps: Annotated[
        int | None, typer.Option(min=1, help="Stage-2 steps; stages 0/1 scale along.")
    ] = None,
    codec: Annotated[
        str | None, typer.Option(help="Coordinate codec (default: the preset's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of data, initialisation and sampling.")] = 0,
    threads: Annotated[int, typer.Option(min=1, help="torch.set_num_threads.")] = 2,
    config: Annotated[Path | None, typer.Option(help="JSON/YAML file of overrides.")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override KEY=VALUE (dotted).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a model with the LocVLM recipe; the result lands in OUT/model."""
    from locvlm.train.trainer import Trainer  # torch is imported only when training

    overrides: dict[str, Any] = load_overrides(config) if config else {}
    overrides.update(parse_assignments(set_ or [], "--set"))
    try:
        cfg = apply_overrides(TrainConfig(preset=preset, seed=seed, threads=threads), overrides)
        if codec:
            cfg = replace(cfg, codec={"name": codec})
        if steps:
            cfg = _scaled(cfg, steps)
        if cfg.seeds > 1:
            return _race(cfg, out, progress)
        trainer = Trainer(cfg, out, show_progress=progress)
        resumed = trainer.load_state()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if resumed:
        typer.echo(f"resuming {out} at stage {trainer.resume.stage}, step {trainer.resume.step}")
    (Path(out) / "train_config.json").write_text(cfg.to_json() + "\n")
    folder = trainer.run()
    if folder is None:
        typer.echo(f"paused at stage-2 step {cfg.pause_at}; run again without pause_at to go on")
    else:
        typer.echo(f"model saved to {folder}")


def _race(cfg: TrainConfig, out: Path, progress: bool) -> None:
    """`seeds` > 1: the seeds raced to `pick_at`, the best finished (`train.race`)."""
    from locvlm.train.race import race

    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(cfg.to_json() + "\n")
    try:
        folder = race(cfg, out, show_progress=progress)
    except RuntimeError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    winner = json.loads((out / "race.json").read_text())["winner"]
    typer.echo(f"seed {winner} won the race; model saved to {folder}")


def selftrain(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for rounds and report.")],
    model: Annotated[str, typer.Option(help="Model folder, or 'default'.")] = "default",
    scenes: Annotated[int, typer.Option(min=1, help="Unlabeled scenes per round.")] = 300,
    rounds: Annotated[int, typer.Option(min=1, help="Label -> fine-tune rounds.")] = 2,
    steps: Annotated[int, typer.Option(min=1, help="Fine-tuning steps per round.")] = 300,
    lr: Annotated[float, typer.Option(min=0.0, help="Peak learning rate.")] = 2e-4,
    eval_per_task: Annotated[
        int, typer.Option(min=1, help="Held-out questions per task, each measurement.")
    ] = 200,
    seed: Annotated[int, typer.Option(help="Seed of question sampling.")] = 0,
    threads: Annotated[int, typer.Option(min=1, help="torch.set_num_threads.")] = 2,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Self-train on the model's own pseudo-labels; rounds land in OUT/round-K."""
    from locvlm.train.selftrain import SelfTrainConfig, SelfTrainer  # torch: only here

    config = SelfTrainConfig(scenes=scenes, rounds=rounds, steps=steps, lr=lr,
                             eval_per_task=eval_per_task, seed=seed, threads=threads)  # fmt: skip
    try:
        trainer = SelfTrainer.from_model(model, config, out, show_progress=progress)
    except (FileNotFoundError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    trainer.run()
    typer.echo((Path(out) / "report.md").read_text())
