"""The image prefix, prefilled once for every row that asks about the same image.

    shared = share_prefix(model, inputs, [id(im) for im in images], image_id, pad_id)
    if shared is not None:   # rows re-laid: prefix, padding, question; the prefix cached
        model.generate(**shared.inputs, cache=shared.cache, …)

A prompt is `<s> USER: <image>... (64 image tokens), a newline, the question, then
ASSISTANT:`. Everything before the question is the same tokens for every row, and the
same keys and values for the rows of one image (`/v1/detect` asks 25 questions of one
image, `/v1/ground` one per phrase plus the listing). Left-padded, each row prefills its
image tokens again. Here the prefix runs once per image, its keys and values are copied
to each of the image's rows, and only the questions are prefilled, with the padding
between prefix and question:

    row 1:  <s> USER: <image>...  .  .  Where is the red circle? ASSISTANT:
    row 2:  <s> USER: <image>...  How many squares? ASSISTANT:

Positions count real tokens only (`generate` and `RunningRows` take them from the
attention mask's running sum), so each row's answer is what it gets left-padded.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache

__all__ = ["SharedPrefix", "share_prefix"]


@dataclass
class SharedPrefix:
    """Rows re-laid around a prefix whose keys and values are already computed."""

    inputs: dict[str, torch.Tensor]  # input_ids and attention_mask: prefix, padding, question
    cache: DynamicCache  # the prefix's keys and values, one row per input row
    length: int  # the prefix's tokens
    images: int  # how many times the prefix was computed: one per distinct image


def share_prefix(
    model: Any,
    inputs: dict[str, torch.Tensor],
    owners: Sequence[Hashable],
    image_id: int,
    pad_id: int,
) -> SharedPrefix | None:
    """Prefill the common prefix once per image (`owners`: equal for rows of one image).

    `inputs` are left-padded prompts with their `pixel_values` (`model.inputs.prompt_batch`).
    None where there is nothing to share (no two rows of one image) or the common prefix
    does not hold every image token (question-first prompts): prefill as usual then.
    """
    ids, mask = inputs["input_ids"], inputs["attention_mask"].bool()
    if len(owners) != ids.shape[0]:
        raise ValueError(f"{len(owners)} owners for {ids.shape[0]} rows")
    first = {key: i for i, key in reversed(list(enumerate(owners)))}  # owner -> its first row
    if len(first) == len(owners):
        return None
    rows = [ids[i][mask[i]] for i in range(ids.shape[0])]
    length = _common(rows)
    length = min(length, min(len(r) for r in rows) - 1)  # every row keeps a token to prefill
    if length <= 0 or any(bool((r[length:] == image_id).any()) for r in rows):
        return None
    distinct = list(first.values())
    row_of = {key: k for k, key in enumerate(first)}
    cache = DynamicCache()
    prefix = rows[0][:length].expand(len(distinct), length)
    with torch.inference_mode():
        model(input_ids=prefix, pixel_values=inputs["pixel_values"][distinct],
              attention_mask=torch.ones_like(prefix), cache=cache, use_cache=True,
              logits_to_keep=1)  # fmt: skip
    at = torch.tensor([row_of[key] for key in owners])
    copied = DynamicCache(ddp_cache_data=[(k[at], v[at]) for k, v, *_ in cache])
    return SharedPrefix(_relaid(rows, length, pad_id), copied, length, len(distinct))


def _common(rows: Sequence[torch.Tensor]) -> int:
    """The length of the prefix every row starts with."""
    shortest = min(len(r) for r in rows)
    same = torch.stack([r[:shortest] == rows[0][:shortest] for r in rows]).all(0)
    differ = (~same).nonzero()
    return int(differ[0]) if len(differ) else shortest


def _relaid(rows: Sequence[torch.Tensor], length: int, pad: int) -> dict[str, torch.Tensor]:
    """Each row as its prefix, then padding, then the rest of its prompt (right-aligned)."""
    width = length + max(len(r) - length for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, :length], mask[i, :length] = r[:length], 1
        ids[i, width - (len(r) - length) :] = r[length:]
        mask[i, width - (len(r) - length) :] = 1
    return {"input_ids": ids, "attention_mask": mask}
