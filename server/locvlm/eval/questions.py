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
from locvlm.coords.relations import Relation
from locvlm.tasks import TASKS, Judged, Task, spatial

__all__ = ["SERVED", "BenchQuestion", "Judged", "bench_task", "question", "served_question"]

SERVED = "spatial_yes_no_served"
"""The task name of a yes/no row asked the way `/v1/spatial` asks it."""


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


def served_question(row: Mapping[str, Any], codec: Codec, evidence: bool) -> BenchQuestion | None:
    """A yes/no row asked as `/v1/spatial` asks it: the pair's side question, then compared.

    None for any other row. The raw yes/no question is still asked by `question`; this is
    what an API user gets for the same row.
    """
    task = bench_task("spatial_side", evidence)
    if row["task"] != "spatial_yes_no" or task is None:
        return None
    size = (int(row["size"][0]), int(row["size"][1]))
    args, asked = row["args"], Relation(row["args"]["relation"])
    want = row["expected"]["answer"] == "yes"

    def judge(text: str) -> Judged:
        said = spatial.yes_from_side(task.read(text, codec, size).value, asked)
        return Judged(said is want, said is not None, said)

    return BenchQuestion(task.prompt(spatial.side_args(args), codec, size), judge)
