"""A training stage as data: what it trains, one step, and the hooks around it.

The trainer's recipe is a list of these (`Trainer.stages`); the loop that runs one is
`loop.StageRunner`, and nothing outside a stage's own fields says what it does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from locvlm.train.config import StageConfig
from locvlm.train.loop import StepFn

__all__ = ["Stage"]


def _nothing(step: int) -> None:
    """A hook that does nothing."""


@dataclass(frozen=True)
class Stage:
    """One stage of the recipe."""

    name: str  # in logs, checkpoints and the config's field of the same name
    config: StageConfig
    parts: Callable[[], list[nn.Module]]  # the modules it trains (the rest stay frozen)
    step: StepFn  # one batch: (loss, metrics to log)
    budgeted: bool = False  # the run's time budget may end it early
    on_start: Callable[[int], None] = _nothing  # before the first step (given its index)
    on_step: Callable[[int], None] = _nothing  # after each step (given steps done)
    on_end: Callable[[], None] | None = None  # after its last step, even with none to do

    def parameters(self) -> list[nn.Parameter]:
        """The parameters it trains."""
        return [p for part in self.parts() for p in part.parameters()]

    def train_only(self, model: nn.Module) -> list[nn.Parameter]:
        """Freeze everything of `model` but this stage's parts; returns what it trains."""
        for p in model.parameters():
            p.requires_grad = False
        params = self.parameters()
        for p in params:
            p.requires_grad = True
        return params
