"""Moving-shapes clips: one shapes-world scene whose objects move and bounce.

Each object moves along a straight line at constant speed (at most 5% of the shorter
image side per frame), bouncing off the image border; objects may pass each other (a
later object is drawn over an earlier one). Per-frame boxes are measured on each
shape's own mask, so an object passing behind another keeps its full box.

    from locvlm.data.clips import render_clip
    frames, tracks = render_clip(seed=(1, 0), n_frames=16)
    tracks[t][k]  # object k's SceneObject in frame t
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from PIL import Image

from locvlm.data.shapes import Placement, SceneObject, ShapesConfig, draw, layout

__all__ = ["MAX_SPEED", "render_clip"]

MAX_SPEED = 0.05  # fraction of the shorter side per frame, the contract's bound


def _velocities(rng: np.random.Generator, n: int, short: int) -> list[tuple[float, float]]:
    out = []
    for _ in range(n):
        speed = rng.uniform(0.3, 1.0) * MAX_SPEED * short
        angle = rng.uniform(0, 2 * math.pi)
        out.append((speed * math.cos(angle), speed * math.sin(angle)))
    return out


def _bounce(pos: float, vel: float, limit: float) -> tuple[float, float]:
    """Advance one frame on one axis, reflecting at 0 and `limit`."""
    pos += vel
    while pos < 0 or pos > limit:  # a loop: a fast object may reflect twice
        pos, vel = (-pos, -vel) if pos < 0 else (2 * limit - pos, -vel)
    return pos, vel


def render_clip(
    seed: int | Sequence[int], n_frames: int = 16, config: ShapesConfig | None = None
) -> tuple[list[Image.Image], list[list[SceneObject]]]:
    """Draw `n_frames` (8..64) frames; returns the frames and each frame's objects."""
    if not 8 <= n_frames <= 64:
        raise ValueError(f"a clip has 8..64 frames, got {n_frames}")
    rng = np.random.default_rng(seed)
    background, placements = layout(rng, config or ShapesConfig())
    height, width = background.shape[:2]
    velocities = _velocities(rng, len(placements), min(width, height))
    positions = [(float(p.x), float(p.y)) for p in placements]
    frames, tracks = [], []
    for _ in range(n_frames):
        current = [
            replace(p, x=round(x), y=round(y))
            for p, (x, y) in zip(placements, positions, strict=True)
        ]
        image, objects = draw(background, current)
        frames.append(image)
        tracks.append(objects)
        positions, velocities = _step(placements, positions, velocities, (width, height))
    return frames, tracks


def _step(
    placements: Sequence[Placement],
    positions: list[tuple[float, float]],
    velocities: list[tuple[float, float]],
    size: tuple[int, int],
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    new_pos, new_vel = [], []
    for p, (x, y), (vx, vy) in zip(placements, positions, velocities, strict=True):
        x, vx = _bounce(x, vx, size[0] - p.side)
        y, vy = _bounce(y, vy, size[1] - p.side)
        new_pos.append((x, y))
        new_vel.append((vx, vy))
    return new_pos, new_vel
