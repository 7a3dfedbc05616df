"""One conversation about a scene: distinct questions of tasks drawn by weight."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from locvlm.coords import Codec
from locvlm.tasks import TASKS, Scene

__all__ = ["conversation"]


def conversation(
    scene: Scene,
    tasks: Sequence[str],
    weights: Sequence[float],
    turns: int,
    codec: Codec,
    rng: random.Random,
    asked: Callable[[Scene], Sequence[str]],
) -> list[tuple[str, str]]:
    """Up to `turns` distinct (question, answer) pairs about `scene`, tasks drawn by weight.

    `asked(scene)`, called once per draw, gives the categories a question may name as
    absent. A task with nothing to ask of the scene is drawn again, up to `3 * turns` draws.
    """
    out: list[tuple[str, str]] = []
    for _ in range(3 * turns):
        if len(out) == turns:
            break
        name = rng.choices(tasks, weights)[0]
        turn = TASKS[name].sample(scene, codec, rng, asked(scene))
        if turn is not None and all(turn.prompt != q for q, _ in out):
            out.append((turn.prompt, turn.answer))
    return out
