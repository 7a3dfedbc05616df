"""Shapes world v1 generator: the synthetic scenes the default checkpoint masters.

Follows `shapes-world.md` (a public contract): 4 shapes x 6 colors, any size 48-1024 px
with aspect 1:2..2:1, light flat / noisy / gradient backgrounds, 1-5 non-overlapping
filled shapes whose box side is 12-35% of the shorter image side, repeats allowed. Every
ground-truth box is measured on the rendered pixels (`Image.getbbox` of the shape's own
mask), so it is exactly the tight box of what was drawn.

    from locvlm.data.shapes import ShapesConfig, render_scene
    image, objects = render_scene(seed=(1, 0), config=ShapesConfig(size=(128, 128)))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from locvlm.tasks import Obj, Scene
from locvlm_client import Box

__all__ = [
    "CATEGORIES",
    "COLORS",
    "Placement",
    "SHAPES",
    "UPRIGHT",
    "SceneObject",
    "ShapesConfig",
    "check_size",
    "draw",
    "layout",
    "render_scene",
    "sample_size",
    "task_scene",
]

SHAPES = ("circle", "square", "triangle", "diamond")
UPRIGHT = ("triangle",)
"""Shapes that are not their own top-to-bottom mirror (a triangle is drawn apex up)."""
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 200, 40),
    "purple": (140, 60, 180),
    "orange": (245, 140, 30),
}
CATEGORIES = tuple(f"{color} {shape}" for color in COLORS for shape in SHAPES)

MIN_SIDE, MAX_SIDE = 48, 1024
COLOR_JITTER = 25  # the contract's tolerance per channel
NOISE_MAX = 12  # the contract's noise amplitude bound
OBJECT_FRACTION = (0.12, 0.35)  # box side as a fraction of the shorter image side


@dataclass(frozen=True)
class ShapesConfig:
    """How scenes are drawn. Defaults are the training distribution."""

    size: tuple[int, int] | None = (128, 128)  # None: a random size and aspect per scene
    min_objects: int = 1  # the contract allows 1..5
    max_objects: int = 5
    backgrounds: tuple[str, ...] = ("flat", "noise", "gradient")  # sampled uniformly
    repeat_prob: float = 0.25  # chance that a new object reuses a present category
    confusable_prob: float = 0.0  # chance that a new object shares its color or its shape
    # (not both) with a present one: hard negatives that colour alone cannot tell apart

    def __post_init__(self) -> None:
        if self.size is not None:
            check_size(self.size)
        for name in ("repeat_prob", "confusable_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1]")
        if not 1 <= self.min_objects <= self.max_objects <= 5:
            raise ValueError("objects per scene must satisfy 1 <= min <= max <= 5")
        unknown = set(self.backgrounds) - {"flat", "noise", "gradient"}
        if unknown or not self.backgrounds:
            raise ValueError(f"backgrounds must be among flat/noise/gradient, got {unknown}")


@dataclass(frozen=True)
class SceneObject:
    """One drawn shape: its category words and tight pixel box."""

    color: str
    shape: str
    box: Box

    @property
    def category(self) -> str:
        """`<color> <shape>`, as the contract names categories."""
        return f"{self.color} {self.shape}"


def check_size(size: tuple[int, int]) -> None:
    """Raise ValueError unless `size` is inside the contract's sizes and aspects."""
    w, h = size
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise ValueError(f"image sides must be {MIN_SIDE}..{MAX_SIDE} px, got {w}x{h}")
    if max(w, h) > 2 * min(w, h):
        raise ValueError(f"aspect ratio must be between 1:2 and 2:1, got {w}x{h}")


def sample_size(rng: np.random.Generator) -> tuple[int, int]:
    """A random size of the contract: log-uniform short side, aspect 1:2..2:1."""
    while True:
        short = int(np.exp(rng.uniform(np.log(MIN_SIDE), np.log(MAX_SIDE))))
        long = int(short * rng.uniform(1.0, 2.0))
        w, h = (long, short) if rng.random() < 0.5 else (short, long)
        if max(w, h) <= MAX_SIDE:
            return w, h


def _background(rng: np.random.Generator, size: tuple[int, int], kind: str) -> np.ndarray:
    w, h = size
    base = rng.integers(180, 256, size=3).astype(np.float32)
    if kind == "gradient":
        other = rng.integers(180, 256, size=3).astype(np.float32)
        n = h if rng.random() < 0.5 else w
        t = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None]
        ramp = base[None, :] * (1 - t) + other[None, :] * t
        img = np.broadcast_to(ramp[:, None, :] if n == h else ramp[None, :, :], (h, w, 3))
        return np.asarray(np.rint(img), dtype=np.uint8)
    img = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    if kind == "noise":
        amp = rng.integers(1, NOISE_MAX + 1)
        img = img + rng.integers(-amp, amp + 1, size=(h, w, 3))
    return np.asarray(np.clip(img, 0, 255), dtype=np.uint8)


def _shape_mask(shape: str, side: int) -> Image.Image:
    mask = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(mask)
    e = side - 1  # PIL's coordinates are inclusive
    if shape == "circle":
        draw.ellipse((0, 0, e, e), fill=255)
    elif shape == "square":
        draw.rectangle((0, 0, e, e), fill=255)
    elif shape == "triangle":  # isosceles, apex up
        draw.polygon([(e / 2, 0), (e, e), (0, e)], fill=255)
    else:  # diamond: a square rotated 45 degrees
        draw.polygon([(e / 2, 0), (e, e / 2), (e / 2, e), (0, e / 2)], fill=255)
    return mask


def _place(
    rng: np.random.Generator, size: tuple[int, int], sides: Sequence[int]
) -> list[tuple[int, int, int]]:
    """Top-left corners for squares of `sides` that do not overlap (touching is fine)."""
    w, h = size
    placed: list[tuple[int, int, int]] = []
    for side in sides:
        for _ in range(100):
            x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
            if all(x >= px + ps or px >= x + side or y >= py + ps or py >= y + side
                   for px, py, ps in placed):  # fmt: skip
                placed.append((x, y, side))
                break
    return placed


def _confusable(rng: np.random.Generator, like: tuple[str, str]) -> tuple[str, str]:
    """A category that shares exactly one word (its color or its shape) with `like`."""
    color, shape = like
    if rng.random() < 0.5:
        shapes = [s for s in SHAPES if s != shape]
        return color, shapes[int(rng.integers(len(shapes)))]
    colors = [c for c in COLORS if c != color]
    return colors[int(rng.integers(len(colors)))], shape


def _categories(
    rng: np.random.Generator, n: int, repeat_prob: float, confusable_prob: float = 0.0
) -> list[tuple[str, str]]:
    colors = list(COLORS)
    chosen: list[tuple[str, str]] = []
    for _ in range(n):
        if chosen and rng.random() < repeat_prob:
            chosen.append(chosen[int(rng.integers(len(chosen)))])
        elif chosen and confusable_prob and rng.random() < confusable_prob:
            chosen.append(_confusable(rng, chosen[int(rng.integers(len(chosen)))]))
        else:
            chosen.append((colors[int(rng.integers(6))], SHAPES[int(rng.integers(4))]))
    return chosen


@dataclass(frozen=True)
class Placement:
    """A shape to draw: square footprint at `(x, y)` with side `side`, and its fill."""

    x: int
    y: int
    side: int
    color: str
    shape: str
    rgb: tuple[int, int, int]


def layout(rng: np.random.Generator, config: ShapesConfig) -> tuple[np.ndarray, list[Placement]]:
    """Draw the random choices of one scene: background pixels and shape placements."""
    size = config.size or sample_size(rng)
    kind = config.backgrounds[int(rng.integers(len(config.backgrounds)))]
    background = _background(rng, size, kind)
    n = int(rng.integers(config.min_objects, config.max_objects + 1))
    short = min(size)
    lo = max(1, int(np.ceil(OBJECT_FRACTION[0] * short)))
    hi = max(lo, int(OBJECT_FRACTION[1] * short))
    sides = sorted((int(rng.integers(lo, hi + 1)) for _ in range(n)), reverse=True)
    placements = []
    placed = _place(rng, size, sides)  # before the categories: the rng's order fixes scenes
    categories = _categories(rng, n, config.repeat_prob, config.confusable_prob)
    for (x, y, side), (color, shape) in zip(placed, categories, strict=False):
        jitter = rng.integers(-COLOR_JITTER, COLOR_JITTER + 1, 3)
        rgb = np.clip(np.array(COLORS[color]) + jitter, 0, 255)
        placements.append(
            Placement(x, y, side, color, shape, (int(rgb[0]), int(rgb[1]), int(rgb[2])))
        )
    return background, placements


def draw(
    background: np.ndarray, placements: Sequence[Placement]
) -> tuple[Image.Image, list[SceneObject]]:
    """Paint `placements` over `background`; boxes measured on each shape's own mask."""
    canvas = Image.fromarray(background, "RGB")
    objects = []
    for p in placements:
        mask = _shape_mask(p.shape, p.side)
        canvas.paste(p.rgb, (p.x, p.y), mask)
        left, top, right, bottom = mask.getbbox() or (0, 0, 0, 0)
        box = Box(x1=p.x + left, y1=p.y + top, x2=p.x + right, y2=p.y + bottom)
        objects.append(SceneObject(color=p.color, shape=p.shape, box=box))
    return canvas, objects


def render_scene(
    seed: int | Sequence[int], config: ShapesConfig = ShapesConfig()
) -> tuple[Image.Image, list[SceneObject]]:
    """Draw one scene, deterministically from `seed`; boxes measured on the pixels."""
    background, placements = layout(np.random.default_rng(seed), config)
    return draw(background, placements)


def task_scene(size: tuple[int, int], objects: Sequence[SceneObject]) -> Scene:
    """The tasks' view of a rendered scene: its size and its objects' categories and boxes."""
    return Scene(size, tuple(Obj(o.category, o.box) for o in objects))
