"""Tasks: per task, its prompt templates, training-target builder and answer parser.

Each task's wording lives only in its module, so training, serving and evaluation
cannot drift. Through `TASKS[name]`: `.sample(scene, codec, rng, vocabulary)` builds a
training turn; `.prompt(args, codec, size)` and `.constraint(args, codec, vocabulary)`
ask a model; `.read(text, codec, size)` reads its answer back into a structured one;
`.judge(text, expected, codec, size)` scores it against a benchmark row.
"""

from locvlm.tasks.base import Args, Judged, Obj, Scene, Task, Turn
from locvlm.tasks.registry import TASKS, get_task

__all__ = ["TASKS", "Args", "Judged", "Obj", "Scene", "Task", "Turn", "get_task"]
