"""Model inputs: (image, question[, answer]) -> tensors, for training and inference alike.

The prompt is `chat.prompt(question)` with `<image>` expanded to one token per patch
(what `LlavaProcessor` does); the target is `" " + answer + EOS`; the loss covers the
target tokens only (labels -100 elsewhere). Training may pack several questions about
one image into one conversation (`chat.follow_up` turns after the first answer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from PIL import Image
from transformers import PreTrainedTokenizerFast

from locvlm.model.image import square
from locvlm.model.prompt_format import IMAGE_TOKEN, follow_up, prompt, text_scene_prompt

__all__ = ["Batch", "Encoder", "pixels", "prompt_batch", "rows_batch", "text_prompt_batch"]

IGNORE = -100


def pixels(
    images: Sequence[Image.Image], side: int, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """Squash to `side` x `side` (`model.image.square`), scale to [0, 1], normalise: NCHW."""
    arr = np.stack([np.asarray(square(im, side)) for im in images])
    x = torch.from_numpy(arr).float().div_(255.0).permute(0, 3, 1, 2)
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    return (x - m) / s


@dataclass(frozen=True)
class Batch:
    """Model inputs for one step."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor
    pixel_values: torch.Tensor | None  # None: text-only rows (scenes written as text)

    def as_kwargs(self) -> dict[str, torch.Tensor]:
        """Keyword arguments for `LlavaForConditionalGeneration.forward`."""
        kwargs = {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "labels": self.labels,
        }
        if self.pixel_values is not None:
            kwargs["pixel_values"] = self.pixel_values
        return kwargs


class Encoder:
    """Encodes (image, question, answer) triples with a tokenizer and image settings."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerFast,
        image_tokens: int,
        image_side: int,
        mean: Sequence[float],
        std: Sequence[float],
        image_first: bool = True,
    ) -> None:
        self.tok = tokenizer
        self.image_id = int(tokenizer.convert_tokens_to_ids(IMAGE_TOKEN))  # type: ignore[arg-type]
        self.image_tokens = image_tokens
        self.side, self.mean, self.std = image_side, list(mean), list(std)
        self.image_first = image_first
        self._cache: dict[str, list[int]] = {}

    def prompt_ids(self, question: str) -> list[int]:
        """Token ids of the prompt, `<image>` expanded to one id per image token."""
        cached = self._cache.get(question)
        if cached is None:
            ids = self.tok(prompt(question, self.image_first)).input_ids
            cached = []
            for i in ids:
                cached.extend([i] * self.image_tokens if i == self.image_id else [i])
            if len(self._cache) >= 200_000:  # bounded: questions hold box text
                self._cache.clear()
            self._cache[question] = cached
        return cached

    def follow_up_ids(self, question: str) -> list[int]:
        """Token ids of a later question in the same conversation (no BOS, no image)."""
        text = follow_up(question, self.image_first)
        ids: list[int] = self.tok(text, add_special_tokens=False).input_ids
        return ids

    def answer_ids(self, answer: str) -> list[int]:
        """Token ids of the target: a space, the answer, then EOS."""
        ids: list[int] = self.tok(" " + answer, add_special_tokens=False).input_ids
        return [*ids, self.tok.eos_token_id]

    def batch(self, items: Sequence[tuple[Image.Image, str, str]]) -> Batch:
        """Right-padded batch of one question per image; labels only on answer tokens."""
        return self.conversations([(image, [(q, a)]) for image, q, a in items])

    def conversations(
        self, items: Sequence[tuple[Image.Image, Sequence[tuple[str, str]]]]
    ) -> Batch:
        """Right-padded batch of conversations (image, [(question, answer), ...]).

        The first question is the one-turn prompt; later ones are follow-up turns.
        Labels cover every answer (with its EOS) and nothing else.
        """
        rows = [self._row(turns, self.prompt_ids) for _, turns in items]
        images = pixels([im for im, _ in items], self.side, self.mean, self.std)
        return self._padded(rows, images)

    def scene_text_ids(self, scene: str, question: str) -> list[int]:
        """Token ids of a prompt whose scene is text in place of the image tokens."""
        ids: list[int] = self.tok(text_scene_prompt(scene, question, self.image_first)).input_ids
        return ids

    def text_conversations(self, items: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> Batch:
        """`conversations` about scenes written as text (`text_scene_prompt`): no pixels."""
        rows = [self._row(turns, partial(self.scene_text_ids, scene)) for scene, turns in items]
        return self._padded(rows, None)

    def _row(
        self, turns: Sequence[tuple[str, str]], first: Callable[[str], list[int]]
    ) -> tuple[list[int], list[int]]:
        """One conversation's ids and labels; `first` encodes its first question."""
        if not turns:
            raise ValueError("a conversation needs at least one question")
        seq: list[int] = []
        lab: list[int] = []
        for k, (question, answer) in enumerate(turns):
            asked = first(question) if k == 0 else self.follow_up_ids(question)
            said = self.answer_ids(answer)
            seq += asked + said
            lab += [IGNORE] * len(asked) + said
        return seq, lab

    def _padded(
        self, rows: Sequence[tuple[list[int], list[int]]], images: torch.Tensor | None
    ) -> Batch:
        """Right-padded rows as one batch."""
        length = max(len(s) for s, _ in rows)
        ids = torch.full((len(rows), length), self.tok.pad_token_id, dtype=torch.long)
        labels = torch.full_like(ids, IGNORE)
        mask = torch.zeros_like(ids)
        for r, (seq, lab) in enumerate(rows):
            ids[r, : len(seq)] = torch.tensor(seq)
            labels[r, : len(lab)] = torch.tensor(lab)
            mask[r, : len(seq)] = 1
        return Batch(ids, mask, labels, images)


def prompt_batch(
    encoder: Encoder, images: Sequence[Image.Image], questions: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Left-padded prompts (generation appends on the right) with their pixels."""
    return rows_batch(encoder, images, [encoder.prompt_ids(q) for q in questions])


def rows_batch(
    encoder: Encoder, images: Sequence[Image.Image], rows: Sequence[list[int]]
) -> dict[str, torch.Tensor]:
    """`prompt_batch` of token rows already built (a conversation's earlier turns, say)."""
    inputs = _left_padded(rows, encoder.tok.pad_token_id)
    inputs["pixel_values"] = pixels(images, encoder.side, encoder.mean, encoder.std)
    return inputs


def text_prompt_batch(
    encoder: Encoder, scenes: Sequence[str], questions: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Left-padded prompts about scenes written as text (`Encoder.scene_text_ids`)."""
    rows = [encoder.scene_text_ids(s, q) for s, q in zip(scenes, questions, strict=True)]
    return _left_padded(rows, encoder.tok.pad_token_id)


def _left_padded(rows: Sequence[list[int]], pad: int) -> dict[str, torch.Tensor]:
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, length - len(r) :] = torch.tensor(r)
        mask[i, length - len(r) :] = 1
    return {"input_ids": ids, "attention_mask": mask}
