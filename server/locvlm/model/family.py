"""Stock checkpoints of other families, loaded with their own processor and model class.

    served = load_family("Qwen/Qwen2.5-VL-3B-Instruct", sidecar, torch.bfloat16)

The adapter renders each question in the family's prompt format (`Adapter.render`); the
family's processor resizes the image and expands its image placeholder, exactly as the
family's own code does, so the coordinate rule of its codec holds. Answers are decoded
with special tokens kept (Qwen2-VL's `<|box_start|>`, Kosmos-2's `<object>` are part of
the box text), less the end, padding and start tokens.

transformers cannot build the Qwen-VL processors without torchvision (their video
processor needs it, even for images alone), and the CPU build of torch this project
installs has none. There, `_QwenImages` stands in: the family's own image processor and
tokenizer, with the image placeholder expanded as the Qwen processors expand it (one
`<|image_pad|>` per merged patch).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from transformers import (
    AutoImageProcessor,
    AutoModelForImageTextToText,
    AutoProcessor,
    AutoTokenizer,
    BatchFeature,
)

from locvlm.adapters import Adapter, get_adapter
from locvlm.model.sidecar import Sidecar

__all__ = ["FamilyModel", "load_family"]


class FamilyModel:
    """A family checkpoint with its processor and adapter (see `ServedModel`)."""

    def __init__(self, model: Any, processor: Any, sidecar: Sidecar, adapter: Adapter) -> None:
        self.model, self.processor, self.sidecar, self.adapter = model, processor, sidecar, adapter
        self.tokenizer = processor.tokenizer
        self.tokenizer.padding_side = "left"  # generation appends on the right
        gen, tok = model.generation_config, self.tokenizer
        eos = gen.eos_token_id if gen.eos_token_id is not None else tok.eos_token_id
        self._eos = [int(e) for e in (eos if isinstance(eos, list) else [eos])]
        pad = tok.pad_token_id if tok.pad_token_id is not None else gen.pad_token_id
        self._pad = int(pad) if pad is not None else self._eos[0]
        self._drop = {
            tok.convert_ids_to_tokens(i)
            for i in (*self._eos, self._pad, tok.bos_token_id)
            if i is not None
        }
        self.encoder_decoder = bool(model.config.is_encoder_decoder)
        start = getattr(model.config, "decoder_start_token_id", None)
        forced = getattr(gen, "forced_bos_token_id", None)
        self._prefix = [int(t) for t in (start, forced) if t is not None]

    @property
    def eos_token_ids(self) -> list[int]:
        """The generation config's end tokens (Qwen: `<|im_end|>` and `<|endoftext|>`)."""
        return self._eos

    @property
    def pad_token_id(self) -> int:
        """The tokenizer's padding token, else the first end token."""
        return self._pad

    def inputs(self, images: Sequence[Image.Image], questions: Sequence[str]) -> dict[str, Any]:
        """The processor's batch of the rendered questions and their images."""
        texts = [self.adapter.render(q) for q in questions]
        batch = self.processor(images=list(images), text=texts, return_tensors="pt", padding=True)
        inputs = dict(batch)
        prefix = self.forced_prefix()
        if prefix is not None:
            inputs["decoder_input_ids"] = prefix.repeat(len(texts), 1)
        return inputs

    def prompt_length(self, inputs: dict[str, Any]) -> int:
        """The prompt (decoder-only) or the forced decoder prefix (encoder-decoder)."""
        key = "decoder_input_ids" if self.encoder_decoder else "input_ids"
        return int(inputs[key].shape[1])

    def prompt_tokens(self, question: str) -> int:
        """Text tokens of the rendered question (image tokens are the processor's)."""
        return len(self.tokenizer(self.adapter.render(question)).input_ids)

    def decode(self, tokens: Sequence[int]) -> str:
        """Special tokens kept, except end, padding and start tokens."""
        pieces = self.tokenizer.convert_ids_to_tokens(list(tokens))
        kept = [p for p in pieces if p not in self._drop]
        return str(self.tokenizer.convert_tokens_to_string(kept)).strip()

    def forced_prefix(self) -> torch.Tensor | None:
        """`decoder_start` (and the forced BOS) of an encoder-decoder; None otherwise."""
        if not self.encoder_decoder or not self._prefix:
            return None
        return torch.tensor([self._prefix], dtype=torch.long)


class _QwenImages:
    """A Qwen-VL processor for images, without the video processor (no torchvision)."""

    placeholder = "<|image_pad|>"

    def __init__(self, image_processor: Any, tokenizer: Any) -> None:
        self.image_processor, self.tokenizer = image_processor, tokenizer

    def __call__(
        self, images: list[Image.Image], text: list[str], return_tensors: str, padding: bool
    ) -> BatchFeature:
        """Pixels and grids of `images`; each text's placeholder expanded to its patches."""
        features = self.image_processor(images=images, return_tensors=return_tensors)
        merge = int(self.image_processor.merge_size) ** 2
        expanded = [
            t.replace(self.placeholder, self.placeholder * (int(grid.prod()) // merge), 1)
            for t, grid in zip(text, features["image_grid_thw"], strict=True)
        ]
        tokens = self.tokenizer(expanded, return_tensors=return_tensors, padding=padding)
        return BatchFeature({**tokens, **features})


def _processor(path: str | Path, adapter: Adapter) -> Any:
    """The checkpoint's processor, or `_QwenImages` where torchvision is missing."""
    qwen = adapter.name.startswith("qwen")
    if qwen and importlib.util.find_spec("torchvision") is None:
        return _QwenImages(
            AutoImageProcessor.from_pretrained(path), AutoTokenizer.from_pretrained(path)
        )
    return AutoProcessor.from_pretrained(path)


def load_family(path: str | Path, sidecar: Sidecar, dtype: torch.dtype) -> FamilyModel:
    """Load a stock checkpoint of the family `sidecar` names, with its processor."""
    adapter = get_adapter(sidecar)
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype)
    model.eval()
    return FamilyModel(model, _processor(path, adapter), sidecar, adapter)
