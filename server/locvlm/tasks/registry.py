"""The registry of tasks, by the name instruction data and benchmarks refer to."""

from __future__ import annotations

from typing import Any

from locvlm.tasks.base import Task
from locvlm.tasks.caption import CaptionTask
from locvlm.tasks.counting import CountingTask
from locvlm.tasks.detect import DetectTask
from locvlm.tasks.exists import ExistsTask
from locvlm.tasks.locpred import LocPredTask, NegPredTask
from locvlm.tasks.motion import MotionTask
from locvlm.tasks.region import RegionTask
from locvlm.tasks.revloc import RevLocTask
from locvlm.tasks.spatial import CategoryTask, SideTask, YesNoTask

__all__ = ["TASKS", "get_task"]

_ALL: tuple[Task[Any], ...] = (
    LocPredTask(),
    NegPredTask(),
    ExistsTask(),
    RevLocTask(),
    RegionTask(in_context=True),
    RegionTask(in_context=False),
    *(kind(evidence=ev) for kind in (YesNoTask, SideTask, CategoryTask) for ev in (False, True)),
    CountingTask(),
    CaptionTask(),
    DetectTask(),
    MotionTask(),
)

TASKS: dict[str, Task[Any]] = {task.name: task for task in _ALL}
"""Every task by name: locpred, negpred, exists, revloc, region, region_plain,
spatial_{yes_no,side,category}[_evidence], counting, caption, detect."""


def get_task(name: str) -> Task[Any]:
    """The task registered as `name`.

    Raises:
        ValueError: for an unknown name.
    """
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}") from None
