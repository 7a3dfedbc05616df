"""The generic optimisation loop of one stage: schedule, progress, checkpoints, budget."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from locvlm.train.config import StageConfig

__all__ = ["Log", "StageRunner", "native_bf16"]

StepFn = Callable[[], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class Log:
    """Appends JSON lines (metrics, validations) to `path` and keeps the last values."""

    path: Path
    started: float = field(default_factory=time.time)

    def write(self, **record: object) -> None:
        """Append one record with the wall time since the run started."""
        record = {"t": round(time.time() - self.started, 1), **record}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


def native_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products in hardware (AMX or AVX512-BF16)."""
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def lr_at(step: int, cfg: StageConfig, time_progress: float = 0.0) -> float:
    """Linear warm-up, the peak held, then cosine decay to 10% of it over the last `decay`.

    `cfg.decay` is the share of the steps after warm-up that the decay takes (1: all of
    them, no hold). With a time budget, `time_progress` (the share of it spent) can run
    the schedule ahead of the step count, so a run cut by its budget still ends at the
    low learning rate.
    """
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = max((step - cfg.warmup) / max(1, cfg.steps - cfg.warmup), time_progress)
    decayed = min(max((progress - (1.0 - cfg.decay)) / cfg.decay, 0.0), 1.0)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * decayed)))


@dataclass
class StageRunner:
    """Runs `steps` optimisation steps of one stage, resumable from `start`."""

    name: str
    cfg: StageConfig
    params: Iterable[torch.nn.Parameter]
    log: Log
    show_progress: bool = True
    deadline: float | None = None  # wall-clock time after which the stage stops early
    bf16: bool = False  # run each step's forward under bf16 autocast (weights stay fp32)
    optimizer: torch.optim.Optimizer | None = None

    def __post_init__(self) -> None:
        self.params = [p for p in self.params if p.requires_grad]
        self.optimizer = self.optimizer or torch.optim.AdamW(
            self.params, lr=self.cfg.lr, betas=(0.9, 0.98), weight_decay=0.01
        )

    def run(
        self,
        step_fn: StepFn,
        start: int = 0,
        every: Callable[[int], None] | None = None,
        until: int | None = None,
    ) -> int:
        """Optimise from step `start` to `until` (or the end); returns the steps done.

        `every(step)` runs after each step, given the steps done.
        """
        assert self.optimizer is not None
        columns = (
            TextColumn(f"[bold]{self.name}"), BarColumn(),
            TextColumn("{task.completed}/{task.total}"), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), TimeRemainingColumn(),
        )  # fmt: skip
        with Progress(*columns, disable=not self.show_progress) as bar:
            task = bar.add_task(self.name, total=self.cfg.steps, completed=start, info="")
            tick, seen, step = time.time(), 0, start
            began = time.time()
            end = self.cfg.steps if until is None else min(until, self.cfg.steps)
            for step in range(start, end):
                now = time.time()
                if self.deadline and now > self.deadline:
                    self.log.write(stage=self.name, event="time budget reached", step=step)
                    return step
                spent = (now - began) / (self.deadline - began) if self.deadline else 0.0
                for group in self.optimizer.param_groups:
                    group["lr"] = lr_at(step, self.cfg, spent)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                    loss, info = step_fn()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.params, 1.0)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                seen += self.cfg.batch_size
                if step % 25 == 0 or step == self.cfg.steps - 1:
                    rate = seen / max(time.time() - tick, 1e-9)
                    self.log.write(stage=self.name, step=step, loss=round(loss.item(), 4),
                                   samples_per_s=round(rate, 1), **info)  # fmt: skip
                    text = " ".join(f"{k}={v:.3g}" for k, v in info.items())
                    bar.update(task, info=f"loss={loss.item():.3f} {rate:.0f}/s {text}")
                    tick, seen = time.time(), 0
                bar.update(task, completed=step + 1)
                if every:
                    every(step + 1)
        return end
