"""`ServedModel`: what the transformers engine needs of a loaded checkpoint, any family.

Our LLaVA checkpoints (`model.loading.LoadedModel`) build their inputs with our own
encoder; other families (`model.family.FamilyModel`) with their own processor. Both
turn a batch of (image, question) pairs into `generate` inputs, count prompt tokens,
name their end tokens and decode answers, so the engine batches, constrains and stops
them alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch
    from PIL import Image
    from transformers import PreTrainedTokenizerBase

    from locvlm.model.sidecar import Sidecar

__all__ = ["ServedModel"]


class ServedModel(Protocol):
    """A checkpoint loaded for serving with transformers."""

    @property
    def model(self) -> Any:
        """The transformers model (`generate` and `config` are what is used)."""

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """Its tokenizer (xgrammar builds its token table from it)."""

    @property
    def sidecar(self) -> Sidecar:
        """What the server knows of the checkpoint (its adapter among it)."""

    @property
    def eos_token_ids(self) -> list[int]:
        """Tokens that end an answer."""

    @property
    def pad_token_id(self) -> int:
        """The token left padding and finished rows are filled with."""

    def inputs(self, images: Sequence[Image.Image], questions: Sequence[str]) -> dict[str, Any]:
        """Left-padded `generate` inputs, one question per image (already prepared)."""

    def prompt_length(self, inputs: dict[str, Any]) -> int:
        """How many leading tokens of `generate`'s output are not the answer."""

    def prompt_tokens(self, question: str) -> int:
        """Tokens of the prompt of `question` (image tokens counted where known)."""

    def decode(self, tokens: Sequence[int]) -> str:
        """The answer text of `tokens`, end and padding tokens dropped."""

    def forced_prefix(self) -> torch.Tensor | None:
        """Decoder tokens every answer starts with (encoder-decoder models), or None."""
