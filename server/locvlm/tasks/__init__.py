"""Tasks: per task, its prompt templates, training-target builder and answer parser.

Each task's wording lives only in its module, so training and serving cannot drift.
`get_task("locpred").sample(scene, codec, rng, vocabulary)` builds a training turn;
`.read(text, codec, size)` reads a model answer back into a structured one.
"""

from locvlm.tasks.base import Obj, Scene, Task, Turn
from locvlm.tasks.registry import TASKS, get_task

__all__ = ["TASKS", "Obj", "Scene", "Task", "Turn", "get_task"]
