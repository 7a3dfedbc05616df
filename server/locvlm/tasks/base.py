"""What every task shares: annotated scenes, training turns and the `Task` contract.

One interface serves training, serving and evaluation, through `TASKS[name]`:
`sample` turns a scene's annotations into a question and its target (training);
`prompt` writes the canonical question for given arguments (a request's or a benchmark
row's), `constraint` the pattern its answer must match, `read` turns model text back
into a structured answer, and `judge` scores it against a benchmark row's expectation.
All of it lives in the task's module, so the sides cannot drift.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, TypeVar

from locvlm.coords import Codec
from locvlm.coords.relations import Axis, Relation, relation_on_axis
from locvlm_client import Box, SizeLike

__all__ = [
    "Args",
    "Judged",
    "Obj",
    "Scene",
    "Task",
    "Turn",
    "as_box",
    "DUPLICATE_IOU",
    "defined_relations",
    "distinct",
    "reading_key",
]

R = TypeVar("R")
T = TypeVar("T")

DUPLICATE_IOU = 0.7
"""Two boxes of one answer (and one label) overlapping more than this are one object
written twice: a decoding loop, not a second object. The shapes world's objects never
overlap; elsewhere, two real objects of one kind rarely overlap this much (NMS's usual
0.5 to 0.7)."""

Args = Mapping[str, Any]
"""A question's arguments by name (`phrase`, `box`, `subject`, ...): a request's or a
benchmark row's; boxes as `Box` or `[x1, y1, x2, y2]` pixels."""


def as_box(value: Box | Sequence[float]) -> Box:
    """A `Box` from a `Box` or `[x1, y1, x2, y2]` (benchmark rows store lists)."""
    return value if isinstance(value, Box) else Box.from_xyxy([float(v) for v in value])


def reading_key(box: Box) -> tuple[float, float, float, float]:
    """Sort key of the reading order every answer lists boxes in.

    Top to bottom by the top edge, then left to right by the left edge.
    """
    return box.y1, box.x1, box.y2, box.x2


def distinct(
    items: Sequence[T], box: Callable[[T], Box], same: Callable[[T, T], bool] | None = None
) -> tuple[T, ...]:
    """`items` in their order without repeats.

    An item whose `box` overlaps a kept one's at IoU > `DUPLICATE_IOU` (and that is the
    `same` kind, when given) is dropped.
    """
    kept: list[T] = []
    for item in items:
        if not any(
            box(k).iou(box(item)) > DUPLICATE_IOU and (same is None or same(k, item)) for k in kept
        ):
            kept.append(item)
    return tuple(kept)


@dataclass(frozen=True)
class Obj:
    """One annotated object: its category phrase and its box in pixels."""

    category: str
    box: Box


@dataclass(frozen=True)
class Scene:
    """An image's annotations: its size `(width, height)` and its objects."""

    size: tuple[int, int]
    objects: tuple[Obj, ...]

    @cached_property
    def ordered(self) -> tuple[Obj, ...]:
        """The objects in reading order (see `reading_key`)."""
        return tuple(sorted(self.objects, key=lambda obj: reading_key(obj.box)))

    @cached_property
    def categories(self) -> tuple[str, ...]:
        """Distinct categories, in the reading order of their first instance."""
        return tuple(dict.fromkeys(obj.category for obj in self.ordered))

    @cached_property
    def unique(self) -> tuple[str, ...]:
        """Categories that appear exactly once: the only ones relation questions name."""
        return tuple(c for c in self.categories if self.count(c) == 1)

    @cached_property
    def singles(self) -> tuple[Obj, ...]:
        """The objects of the `unique` categories, in reading order."""
        return tuple(obj for obj in self.ordered if obj.category in self.unique)

    def instances(self, category: str) -> tuple[Obj, ...]:
        """The objects of `category`, in reading order."""
        return tuple(obj for obj in self.ordered if obj.category == category)

    def count(self, category: str) -> int:
        """How many objects of `category` the scene holds."""
        return sum(obj.category == category for obj in self.objects)

    def absent(self, vocabulary: Sequence[str]) -> list[str]:
        """The entries of `vocabulary` that the scene does not show, in vocabulary order."""
        present = set(self.categories)
        return [c for c in vocabulary if c not in present]

    def confusable(self, vocabulary: Sequence[str]) -> list[str]:
        """Absent entries that share a word with a present category: the hardest to reject.

        With a red circle and a blue square present, "red square" is one.
        """
        words = {w for c in self.categories for w in c.split()}
        return [c for c in self.absent(vocabulary) if words & set(c.split())]

    def with_one_absent(self, vocabulary: Sequence[str], rng: random.Random) -> list[str]:
        """The scene's categories plus one random absent vocabulary entry, if there is one."""
        absent = self.absent(vocabulary)
        return [*self.categories, *rng.sample(absent, k=min(1, len(absent)))]


def defined_relations(a: Obj, b: Obj) -> tuple[Relation, ...]:
    """The relations of `a` to `b` that are defined (one per axis without overlap)."""
    found = (relation_on_axis(a.box, b.box, axis) for axis in Axis)
    return tuple(rel for rel in found if rel is not None)


@dataclass(frozen=True)
class Turn(Generic[R]):
    """One training or benchmark example: the question, the target text and its meaning.

    `expected` is what the task's `read` returns for a correct answer, so benchmarks and
    tests compare structured answers rather than strings.
    """

    task: str
    prompt: str
    answer: str
    expected: R


@dataclass(frozen=True)
class Judged:
    """A judged answer: right or wrong, parsed or not, and the reading (for reports)."""

    correct: bool
    parsed: bool
    said: Any = None
    evidence: bool | None = None  # spatial: the stated boxes match the objects
    mistake: str | None = None  # what is wrong, where the task tells kinds of error apart


class Task(ABC, Generic[R]):
    """A task: its templates, training sampler, prompt, constraint, reader and judge.

    Subclasses set `name` and `templates` (the canonical template first, then the
    paraphrases used in training) and keep their wording in their own module.
    """

    name: str
    templates: tuple[str, ...]

    @abstractmethod
    def sample(
        self, scene: Scene, codec: Codec, rng: random.Random, vocabulary: Sequence[str]
    ) -> Turn[R] | None:
        """A random question about `scene` with a random template.

        Returns None when the scene offers no valid question. `vocabulary` supplies the
        absent categories that some tasks ask about.
        """

    @abstractmethod
    def read(self, text: str, codec: Codec, size: SizeLike, vocabulary: Sequence[str] = ()) -> R:
        """The structured answer in model `text`, of the type of `Turn.expected`.

        Never raises on any text: a text that does not parse gives None (or a None field).
        """

    @abstractmethod
    def prompt(self, args: Args, codec: Codec, size: SizeLike) -> str:
        """The canonical question for `args`, boxes in it written by `codec` for `size`.

        Raises:
            KeyError: `args` lacks a field the question needs (a caller error).
        """

    def constraint(self, args: Args, codec: Codec, vocabulary: Sequence[str]) -> str | None:
        """The regular expression an answer to `args` must match; None: unconstrained.

        Patterns that list categories need a `vocabulary`; without one they are None.
        """
        return None

    def judge(self, text: str, expected: Args, codec: Codec, size: SizeLike) -> Judged:
        """Score model `text` against a benchmark row's `expected` answer.

        Raises:
            NotImplementedError: the task has no benchmark (see `judges`).
        """
        raise NotImplementedError(f"task {self.name!r} has no benchmark judge")

    @property
    def judges(self) -> bool:
        """Whether `judge` is implemented (benchmarks exist for this task)."""
        return type(self).judge is not Task.judge

    def turn(self, prompt: str, answer: str, expected: R) -> Turn[R]:
        """A `Turn` of this task."""
        return Turn(task=self.name, prompt=prompt, answer=answer, expected=expected)
