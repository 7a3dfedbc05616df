"""Quick validation during training: greedy answers on held-out scenes, scored per task."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image
from transformers import LlavaForConditionalGeneration

from locvlm.coords import Codec
from locvlm.model.inputs import Encoder
from locvlm.model.loading import greedy, greedy_text
from locvlm.tasks import TASKS, Scene, Turn
from locvlm.tasks.scoring import correct
from locvlm.train.scenes import SceneStream

__all__ = ["validation_set", "validate"]


def validation_set(
    tasks: Sequence[str], codec: Codec, per_task: int, seed: int, vocabulary: Sequence[str]
) -> list[tuple[Image.Image, Scene, Turn[Any]]]:
    """`per_task` held-out turns per task from scenes of a seed never used in training."""
    stream, rng = SceneStream(seed=seed), random.Random(seed)
    out: list[tuple[Image.Image, Scene, Turn[Any]]] = []
    for name in tasks:
        got = 0
        while got < per_task:
            image, scene = stream.next()
            turn = TASKS[name].sample(scene, codec, rng, vocabulary)
            if turn is not None:
                out.append((image, scene, turn))
                got += 1
    return out


def validate(
    model: LlavaForConditionalGeneration,
    encoder: Encoder,
    codec: Codec,
    items: Sequence[tuple[Image.Image, Scene, Turn[Any]]],
    vocabulary: Sequence[str],
    batch_size: int = 64,
    on_batch: Callable[[int], None] | None = None,
    scene_text: Callable[[Scene], str] | None = None,
) -> dict[str, float]:
    """Accuracy per task (and parse-failure rate) on `items`.

    With `scene_text`, each scene is given as that text instead of its image (the
    text-only stage's questions, `Encoder.scene_text_ids`).
    """
    model.eval()
    right: dict[str, list[bool]] = defaultdict(list)
    failed = 0
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        questions = [t.prompt for _, _, t in chunk]
        if scene_text is None:
            texts = greedy(model, encoder, [i for i, _, _ in chunk], questions)
        else:
            texts = greedy_text(model, encoder, [scene_text(s) for _, s, _ in chunk], questions)
        for (_, scene, turn), text in zip(chunk, texts, strict=True):
            got = TASKS[turn.task].read(text, codec, scene.size, vocabulary)
            failed += got is None
            right[turn.task].append(correct(got, turn.expected))
        if on_batch:
            on_batch(len(chunk))
    model.train()
    scores = {task: sum(v) / len(v) for task, v in right.items()}
    scores["parse_failures"] = failed / max(len(items), 1)
    return scores
