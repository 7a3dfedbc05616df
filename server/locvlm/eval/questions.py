"""Benchmark rows -> prompts for a given model, and model text -> right or wrong.

A benchmark row stores a task's inputs in pixels (`args`) and its structured expected
answer, never a prompt: the task (`TASKS[row["task"]]`) writes the prompt with the
*model's* codec and its canonical wording, and judges the answer, so one benchmark
scores models of any coordinate format.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from locvlm.coords import Codec
from locvlm.tasks import TASKS, Judged, Task

__all__ = ["BenchQuestion", "Judged", "bench_task", "question"]


@dataclass(frozen=True)
class BenchQuestion:
    """What to ask a model about one benchmark row, and how to judge its answer."""

    prompt: str
    judge: Callable[[str], Judged]


def bench_task(name: str, evidence: bool) -> Task[Any] | None:
    """The task that asks and judges benchmark task `name` for a model.

    A model trained to state its evidence first ("localize, then reason") is asked the
    `_evidence` variant where there is one. None when no task judges `name`.
    """
    task = TASKS.get(f"{name}_evidence" if evidence else name) or TASKS.get(name)
    return task if task is not None and task.judges else None


def question(row: Mapping[str, Any], codec: Codec, evidence: bool) -> BenchQuestion | None:
    """The question of a benchmark row for a model, or None for an unsupported task."""
    task = bench_task(str(row["task"]), evidence)
    if task is None:
        return None
    size = (int(row["size"][0]), int(row["size"][1]))
    args, expected = row.get("args", {}), row.get("expected", {})

    def judge(text: str) -> Judged:
        return task.judge(text, expected, codec, size)

    return BenchQuestion(task.prompt(args, codec, size), judge)
