"""An endless, seeded stream of shapes-world scenes for on-the-fly training.

Sizes cover the contract's aspects (1:2..2:1); most scenes are drawn small (short side
48-160 px) because the model sees them squashed to its input size anyway, and one in
ten large (up to 512 px) so that downscaling artefacts of big images are seen too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from PIL import Image

from locvlm.data.shapes import CATEGORIES, ShapesConfig, render_scene, task_scene
from locvlm.tasks import Scene

__all__ = ["SceneStream"]


@dataclass
class SceneStream:
    """Scenes `(seed, i)` for i = 0, 1, ...; a different seed gives a disjoint stream."""

    seed: int
    max_objects: int = 5
    min_objects: int = 1
    confusable_prob: float = 0.0  # see ShapesConfig: same-color / same-shape distractors
    repeat_prob: float = 0.25  # see ShapesConfig: a new object reuses a present category
    index: int = 0  # the next scene; saved in checkpoints so a resumed run continues
    vocabulary: ClassVar[tuple[str, ...]] = CATEGORIES  # every category the world draws

    def _size(self, rng: np.random.Generator) -> tuple[int, int]:
        short = int(rng.integers(48, 513)) if rng.random() < 0.1 else int(rng.integers(48, 161))
        long = min(int(short * rng.uniform(1.0, 2.0)), 1024)
        return (long, short) if rng.random() < 0.5 else (short, long)

    def next(self) -> tuple[Image.Image, Scene]:
        """The next scene."""
        rng = np.random.default_rng((self.seed, self.index, 1))
        config = ShapesConfig(
            size=self._size(rng),
            min_objects=self.min_objects,
            max_objects=self.max_objects,
            confusable_prob=self.confusable_prob,
            repeat_prob=self.repeat_prob,
        )
        image, objects = render_scene((self.seed, self.index), config)
        self.index += 1
        return image, task_scene(image.size, objects)

    def __iter__(self) -> Iterator[tuple[Image.Image, Scene]]:
        while True:
            yield self.next()
