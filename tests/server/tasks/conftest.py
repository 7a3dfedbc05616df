"""Shared fixtures: shapes-like scenes, the codecs every task must work with, comparison.

Scenes follow shapes-world.md: 1-5 non-overlapping boxes (touching allowed) whose sides
are 12-35% of the shorter image side, categories "<color> <shape>" with repeats, square
and non-square sizes.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any

import pytest

from locvlm.coords import CODECS, Codec, get_codec
from locvlm.tasks import Obj, Scene
from locvlm_client import Box

COLORS = ("red", "green", "blue", "yellow", "purple", "orange")
SHAPES = ("circle", "square", "triangle", "diamond")
VOCABULARY = tuple(f"{color} {shape}" for color in COLORS for shape in SHAPES)
SIZES = ((48, 96), (64, 64), (100, 60), (224, 224), (320, 200), (640, 480))

# The paper's three representations with the parameters we train with, then every peer
# family registered when the tests run, with its defaults.
_OURS = {"nfp": {}, "ivb-100": {"bins": 100}, "ivb-32": {"bins": 32}, "diga": {}}


def _codec_cases() -> dict[str, Codec]:
    cases = {case: get_codec(case.split("-")[0], **params) for case, params in _OURS.items()}
    for name in CODECS:
        if name in ("nfp", "ivb", "diga"):
            continue
        try:
            cases[name] = get_codec(name)
        except ValueError:  # a family that needs parameters we cannot guess
            continue
    return cases


CODEC_CASES = _codec_cases()


def random_scene(rng: random.Random, size: tuple[int, int]) -> Scene:
    """A shapes-like scene with integer boxes that never overlap (they may touch)."""
    width, height = size
    short = min(width, height)
    wanted = rng.randint(1, 5)
    objects: list[Obj] = []
    for _ in range(500):
        if len(objects) == wanted:
            break
        w = rng.randint(round(0.12 * short), round(0.35 * short))
        h = rng.randint(round(0.12 * short), round(0.35 * short))
        x1, y1 = rng.randint(0, width - w), rng.randint(0, height - h)
        box = Box.from_xyxy((x1, y1, x1 + w, y1 + h))
        if any(box.intersection(obj.box) > 0 for obj in objects):
            continue
        repeat = objects and rng.random() < 0.3
        category = rng.choice(objects).category if repeat else rng.choice(VOCABULARY)
        objects.append(Obj(category=category, box=box))
    return Scene(size=size, objects=tuple(objects))


def build_scene(*items: tuple[str, tuple[int, int, int, int]], size=(100, 100)) -> Scene:
    """A hand-made scene from `(category, (x1, y1, x2, y2))` pairs."""
    objects = tuple(Obj(category=c, box=Box.from_xyxy(xyxy)) for c, xyxy in items)
    return Scene(size=size, objects=objects)


def is_close(got: Any, want: Any, tol: tuple[float, float]) -> bool:
    """Structural equality where boxes may differ by `tol` = (x, y) pixels per coordinate."""
    if isinstance(want, Box):
        tx, ty = tol
        pairs = zip(got.to_xyxy(), want.to_xyxy(), (tx, ty, tx, ty), strict=True)
        return isinstance(got, Box) and all(abs(g - w) <= t for g, w, t in pairs)
    if dataclasses.is_dataclass(want) and not isinstance(want, type):
        return type(got) is type(want) and all(
            is_close(getattr(got, f.name), getattr(want, f.name), tol)
            for f in dataclasses.fields(want)
        )
    if isinstance(want, tuple):
        return (
            isinstance(got, tuple)
            and len(got) == len(want)
            and all(is_close(g, w, tol) for g, w in zip(got, want, strict=True))
        )
    return bool(got == want)


@pytest.fixture(scope="session")
def scenes() -> list[Scene]:
    """48 random scenes, eight per image size."""
    return [random_scene(random.Random(seed), SIZES[seed % len(SIZES)]) for seed in range(48)]


@pytest.fixture(scope="session")
def vocabulary() -> tuple[str, ...]:
    """The 24 categories of the shapes world."""
    return VOCABULARY


@pytest.fixture(params=list(CODEC_CASES.values()), ids=list(CODEC_CASES))
def codec(request: pytest.FixtureRequest) -> Codec:
    """Each codec the tasks must work with."""
    return request.param


@pytest.fixture
def tolerance(codec: Codec) -> Callable[[tuple[int, int]], tuple[float, float]]:
    """(x, y) pixel tolerance of `codec` for an image size (plus float slack)."""
    return lambda size: (codec.tolerance * size[0] + 1e-6, codec.tolerance * size[1] + 1e-6)


@pytest.fixture
def scene_of() -> Callable[..., Scene]:
    """`build_scene` for hand-made cases."""
    return build_scene


@pytest.fixture
def close() -> Callable[[Any, Any, tuple[float, float]], bool]:
    """`is_close`, for comparing parsed answers with `Turn.expected`."""
    return is_close
