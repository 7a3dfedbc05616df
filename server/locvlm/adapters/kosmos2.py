"""Kosmos-2: `<grounding>` prompts, `<phrase>..</phrase><object><patch_index_..>..</object>`.

Kosmos-2 grounds the phrases of the text it reads or writes with patch indices of a
32 x 32 grid (`coords.kosmos2`). Grounding gives the phrase and lets the model write its
object; detection asks for a grounded caption, whose phrases are the labels; a region
is described by giving its object and letting the model go on:

    <grounding><phrase> red circle</phrase>
        -> <object><patch_index_0044><patch_index_0863></object>
    <grounding> An image of
        -> <phrase> a red circle</phrase><object>...</object> ...
    <grounding><phrase> It</phrase><object>...</object> is
        -> a red circle.

Its processor puts the image tokens before the text. vLLM does not serve Kosmos-2.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from locvlm.adapters.base import Adapter, Question
from locvlm_client import Box, SizeLike

__all__ = ["Kosmos2Adapter"]

_WORDS = r"[^<>\n]{1,60}"


class Kosmos2Adapter(Adapter):
    """Kosmos-2 (`Kosmos2ForConditionalGeneration`)."""

    name = "kosmos2"
    title = "Kosmos-2"
    model_types = ("kosmos-2",)
    codec_name = "kosmos2"
    vllm = False

    def ground(self, phrase: str, size: SizeLike) -> Question:
        """The phrase, then the model writes its `<object>` (instances joined inside)."""
        return Question(f"<grounding><phrase> {phrase}</phrase>", self.codec.regex)

    def detect(self, categories: Sequence[str], size: SizeLike) -> Question:
        """A grounded caption; each phrase labels the boxes after it."""
        names = [*categories] or self.vocabulary
        label = "(?:" + "|".join(re.escape(c) for c in names) + ")" if names else _WORDS
        item = f"<phrase> ?{label}</phrase>{self.codec.regex}"
        return Question("<grounding> An image of", f"(?:{_WORDS})?{item}(?:(?:,| and)? ?{item})*")

    def describe(self, box: Box, size: SizeLike, context: bool) -> Question:
        """The region as the object of "It", and the model says what it is."""
        where = self.codec.encode([box], size)
        return Question(f"<grounding><phrase> It</phrase>{where} is", _WORDS)
