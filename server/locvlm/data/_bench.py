"""What every benchmark builder shares: options, the images asked about, the row layout.

A benchmark kind is a `Kind`: its units (images, or clips for motion) and a function
that turns one unit into rows. `benchmarks.build_benchmarks` runs the kinds; a row is

    {"task": ..., "image": ... | "frames": [...], "size": [w, h], "hflip": false,
     "args": {...}, "expected": {...}, "group": null, "split": null}

and gets its `id` and `bench` there.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from typing import Any, Generic, Protocol, TypeVar

from locvlm.coords.relations import Axis, Relation, relation_on_axis
from locvlm.data._rows import Row, image_path, to_scene
from locvlm.data.coco import CocoDataset
from locvlm.data.negatives import STRATEGIES, NegativeSampler, crowd_categories
from locvlm.tasks import Obj, Scene

__all__ = [
    "BenchImage",
    "BenchOptions",
    "BenchSource",
    "Fact",
    "Kind",
    "Media",
    "facts_on_axis",
    "per_image",
    "row",
]


@dataclass(frozen=True)
class BenchOptions:
    """How benchmarks are drawn."""

    seed: int = 0  # image `i` of kind `k` draws from (seed, k, i): rows do not depend on order
    max_per_image: int = 3  # questions (or pairs) per image and kind; POPE asks 3 + 3
    negatives: str | None = None  # one POPE split (all three when None); NegPred in grounding
    image_root: str | None = None  # joined to each file_name in the rows
    absent_rate: float = 0.5  # counting: odds of one absent category (count 0) per image
    upright: tuple[str, ...] = ()
    """Categories (or supercategories) that are not their own top-to-bottom mirror, as the
    shapes world's apex-up triangle: an image that shows one gets no flipped above/below
    copy, which would show an object outside the dataset's world."""

    def __post_init__(self) -> None:
        if self.max_per_image < 1:
            raise ValueError(f"max_per_image must be at least 1, got {self.max_per_image}")
        if self.negatives is not None and self.negatives not in STRATEGIES:
            known = ", ".join(STRATEGIES)
            raise ValueError(f"unknown negatives {self.negatives!r}; known: {known}")
        if not (math.isfinite(self.absent_rate) and 0 <= self.absent_rate <= 1):
            raise ValueError(f"absent_rate must be in [0, 1], got {self.absent_rate}")


@dataclass(frozen=True)
class Media:
    """Where a row's pixels are, one image or a clip's frames, and their size."""

    size: tuple[int, int]
    image: str | None = None
    frames: tuple[str, ...] = ()

    def fields(self) -> Row:
        """`{"image": path}`, or `{"frames": [paths]}` for a clip."""
        return {"frames": list(self.frames)} if self.frames else {"image": self.image}


@dataclass(frozen=True)
class BenchImage:
    """One image: its scene and the categories its crowd regions show."""

    key: str  # the image id
    media: Media
    scene: Scene
    crowd: frozenset[str] = frozenset()

    @cached_property
    def askable(self) -> list[str]:
        """Present categories without a crowd region: their boxes and counts are known."""
        return [c for c in self.scene.categories if c not in self.crowd]

    @cached_property
    def present(self) -> frozenset[str]:
        """Every category the image shows, crowd regions included: never a negative."""
        return frozenset(self.scene.categories) | self.crowd

    @cached_property
    def singles(self) -> tuple[Obj, ...]:
        """Objects whose category appears exactly once (and not in a crowd region)."""
        return tuple(obj for obj in self.scene.singles if obj.category not in self.crowd)


class _Unit(Protocol):
    @property
    def key(self) -> str: ...


U = TypeVar("U", bound=_Unit)


@dataclass(frozen=True)
class BenchSource:
    """A dataset ready for the builders: its images, negatives sampler and options."""

    dataset: CocoDataset
    options: BenchOptions

    @cached_property
    def images(self) -> list[BenchImage]:
        """Every image of the dataset, in file order."""
        crowds = crowd_categories(self.dataset)
        root = self.options.image_root
        return [
            BenchImage(
                str(record.id),
                Media(record.size, image=image_path(record.file_name, root)),
                to_scene(record),
                crowds.get(record.id, frozenset()),
            )
            for record in self.dataset.records()
        ]

    @cached_property
    def negatives(self) -> NegativeSampler:
        """POPE's sampler: `top_k=1`, so popular and adversarial take the very top."""
        names = self.dataset.category_names()
        return NegativeSampler.from_records(self.dataset.records(), names, top_k=1)

    @cached_property
    def upright(self) -> frozenset[str]:
        """The category names of `options.upright` (named, or by their supercategory)."""
        wanted = set(self.options.upright)
        return frozenset(
            c.name for c in self.dataset.categories if {c.name, c.supercategory} & wanted
        )

    def sampler(self, strategy: str | None = None) -> NegativeSampler:
        """The sampler with `strategy`, or with the options' one (random when unset)."""
        return self.negatives.using(strategy or self.options.negatives or "random")

    def rng(self, kind: str, key: str) -> random.Random:
        """The random source of one unit of one kind."""
        return random.Random(f"{self.options.seed}/{kind}/{key}")

    def pick(self, rng: random.Random, items: Sequence[Any]) -> list[Any]:
        """Up to `max_per_image` of `items`, at random, in their given order."""
        chosen = sorted(rng.sample(range(len(items)), min(len(items), self.options.max_per_image)))
        return [items[i] for i in chosen]


@dataclass(frozen=True)
class Kind(Generic[U]):
    """A benchmark kind: its units and the rows of one unit."""

    count: Callable[[CocoDataset], int]
    """How many units a dataset has (for progress bars), before any is built."""
    units: Callable[[BenchSource], Sequence[U]]
    rows: Callable[[BenchSource, U, random.Random], Iterator[Row]]


def per_image(rows: Callable[[BenchSource, BenchImage, random.Random], Iterator[Row]]) -> Kind[Any]:
    """A kind whose units are the dataset's images."""
    return Kind(count=lambda dataset: len(dataset.images), units=lambda s: s.images, rows=rows)


Fact = tuple[Obj, Obj, Relation]
"""Subject, reference and the relation of the subject to the reference."""


def facts_on_axis(objects: Sequence[Obj], axis: Axis, rng: random.Random) -> list[Fact]:
    """Every pair of `objects` without overlap on `axis`, each once, in a random order."""
    facts = []
    for a, b in combinations(objects, 2):
        holds = relation_on_axis(a.box, b.box, axis)
        if holds is not None:
            facts.append((a, b, holds) if rng.random() < 0.5 else (b, a, holds.inverse))
    return facts


def row(
    media: Media,
    task: str,
    args: dict[str, Any],
    expected: dict[str, Any],
    *,
    hflip: bool = False,
    vflip: bool | None = None,
    group: str | None = None,
    split: str | None = None,
    **extra: Any,
) -> Row:
    """A benchmark row without its `id` and `bench` (see the module docstring).

    `vflip` (above/below only) is written when given; `extra` adds fields at the end.
    """
    flips = {"hflip": hflip} if vflip is None else {"hflip": hflip, "vflip": vflip}
    return {
        "task": task,
        **media.fields(),
        "size": list(media.size),
        **flips,
        "args": args,
        "expected": expected,
        "group": group,
        "split": split,
        **extra,
    }
