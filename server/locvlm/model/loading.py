"""Load a trained or exported locvlm checkpoint for inference with transformers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image
from transformers import (
    AutoTokenizer,
    LlavaForConditionalGeneration,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedTokenizerFast,
)

from locvlm.adapters import read_sidecar
from locvlm.coords import Codec, get_codec
from locvlm.model.build import image_stats
from locvlm.model.inputs import Encoder, prompt_batch, rows_batch, text_prompt_batch
from locvlm.model.prefix import share_prefix
from locvlm.model.served import ServedModel
from locvlm.model.sidecar import Sidecar, resolve_model_dir

if TYPE_CHECKING:
    from locvlm.model.grammar import Grammars

# resolve_model_dir lives with the sidecar (no torch); here too for the callers that load.
__all__ = [
    "LoadedModel",
    "greedy",
    "greedy_rows",
    "greedy_text",
    "load_model",
    "load_served",
    "resolve_model_dir",
]


def greedy(
    model: LlavaForConditionalGeneration,
    encoder: Encoder,
    images: Sequence[Image.Image],
    questions: Sequence[str],
    max_new_tokens: int = 64,
    processors: Sequence[LogitsProcessor] = (),
) -> list[str]:
    """Greedy answers to `questions` about `images` (one each), special tokens dropped.

    `processors` change the logits before each token is picked (a constraint). Rows
    that ask about one image (the same object) prefill its prefix once (`model.prefix`).
    """
    inputs: dict[str, Any] = prompt_batch(encoder, images, questions)
    owners = [id(image) for image in images]
    shared = share_prefix(model, inputs, owners, encoder.image_id, encoder.tok.pad_token_id)
    if shared is not None:
        inputs = {**shared.inputs, "cache": shared.cache}
    return _greedy(model, encoder.tok, inputs, max_new_tokens, processors)


def greedy_rows(
    model: LlavaForConditionalGeneration,
    encoder: Encoder,
    images: Sequence[Image.Image],
    rows: Sequence[list[int]],
    max_new_tokens: int = 64,
) -> list[str]:
    """`greedy` for prompts given as token rows (`model.inputs.rows_batch`)."""
    return _greedy(model, encoder.tok, rows_batch(encoder, images, rows), max_new_tokens)


def greedy_text(
    model: LlavaForConditionalGeneration,
    encoder: Encoder,
    scenes: Sequence[str],
    questions: Sequence[str],
    max_new_tokens: int = 64,
) -> list[str]:
    """`greedy` about scenes written as text (`model.inputs.text_prompt_batch`)."""
    inputs = text_prompt_batch(encoder, scenes, questions)
    return _greedy(model, encoder.tok, inputs, max_new_tokens)


def _greedy(
    model: LlavaForConditionalGeneration,
    tok: PreTrainedTokenizerFast,
    inputs: dict[str, Any],
    max_new_tokens: int,
    processors: Sequence[LogitsProcessor] = (),
) -> list[str]:
    with torch.inference_mode():
        out = model.generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=False,
            logits_processor=LogitsProcessorList(processors),
            pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
        )  # fmt: skip
    new = out[:, inputs["input_ids"].shape[1] :]
    return [t.strip() for t in tok.batch_decode(new, skip_special_tokens=True)]


@dataclass
class LoadedModel:
    """A model with what it needs to read prompts and write answers (a `ServedModel`)."""

    model: LlavaForConditionalGeneration
    tokenizer: PreTrainedTokenizerFast
    sidecar: Sidecar
    encoder: Encoder
    codec: Codec

    @property
    def eos_token_ids(self) -> list[int]:
        """The tokenizer's EOS."""
        return [int(self.tokenizer.eos_token_id)]

    @property
    def pad_token_id(self) -> int:
        """The tokenizer's padding token."""
        return int(self.tokenizer.pad_token_id)

    def inputs(
        self, images: Sequence[Image.Image], questions: Sequence[str]
    ) -> dict[str, torch.Tensor]:
        """Left-padded prompts with their pixels (`model.inputs.prompt_batch`)."""
        return prompt_batch(self.encoder, images, questions)

    def prompt_length(self, inputs: dict[str, torch.Tensor]) -> int:
        """The padded prompt's length."""
        return int(inputs["input_ids"].shape[1])

    def prompt_tokens(self, question: str) -> int:
        """Prompt tokens, one per image token."""
        return len(self.encoder.prompt_ids(question))

    def decode(self, tokens: Sequence[int]) -> str:
        """Special tokens dropped, stripped."""
        return str(self.tokenizer.decode(list(tokens), skip_special_tokens=True)).strip()

    def forced_prefix(self) -> torch.Tensor | None:
        """None: a decoder-only model."""
        return None

    def generate(
        self,
        images: Sequence[Image.Image],
        questions: Sequence[str],
        max_new_tokens: int = 64,
        regexes: Sequence[str | None] = (),
    ) -> list[str]:
        """Greedy answers to `questions` about `images` (one each).

        `regexes`: each answer's constraint, as engines take it
        (`engines.base.Constraint.for_engine`), None for none; empty: none at all.
        """
        processors = []
        if any(r is not None for r in regexes):
            from locvlm.model.grammar import ConstrainRows  # xgrammar: only when constrained

            grammars = self._grammars
            compiled = [None if r is None else grammars.compile(r) for r in regexes]
            processors.append(ConstrainRows(compiled, grammars.vocab_size))
        return greedy(self.model, self.encoder, images, questions, max_new_tokens, processors)

    @cached_property
    def _grammars(self) -> Grammars:
        """The constraints' grammars, compiled for this tokenizer (on first use)."""
        from locvlm.model.grammar import Grammars

        vocab_size = int(self.model.config.get_text_config().vocab_size)
        return Grammars(self.tokenizer, vocab_size, self.eos_token_ids)


def load_served(
    name: str | Path, adapter: str | None = None, dtype: torch.dtype = torch.float32
) -> ServedModel:
    """Load any servable checkpoint: ours (`load_model`), or a stock one of a family.

    Raises:
        FileNotFoundError: no checkpoint at `name`.
        ValueError: no adapter for it (see `adapters.read_sidecar`).
    """
    path = resolve_model_dir(name)
    sidecar = read_sidecar(path, adapter)
    if sidecar.adapter == "locvlm":
        return load_model(path, dtype, sidecar)
    from locvlm.model.family import load_family

    return load_family(path, sidecar, dtype)


def load_model(
    name: str | Path, dtype: torch.dtype = torch.float32, sidecar: Sidecar | None = None
) -> LoadedModel:
    """Load one of our checkpoint folders (training output or export) with its sidecar."""
    path = resolve_model_dir(name)
    sidecar = sidecar or Sidecar.read(path)
    model = LlavaForConditionalGeneration.from_pretrained(path, dtype=dtype)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    if not isinstance(tokenizer, PreTrainedTokenizerFast):
        raise ValueError(f"{path}: expected a fast tokenizer, got {type(tokenizer).__name__}")
    vision = model.config.vision_config
    side, patch = int(getattr(vision, "image_size")), int(getattr(vision, "patch_size"))  # noqa: B009
    tokens = (side // patch) ** 2
    mean, std = image_stats()
    encoder = Encoder(tokenizer, tokens, side, mean, std, sidecar.image_first)
    return LoadedModel(model, tokenizer, sidecar, encoder, get_codec(**sidecar.codec))
