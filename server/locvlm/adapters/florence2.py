"""Florence-2: task tokens in, `label<loc_x1><loc_y1><loc_x2><loc_y2>` out, 1000 bins.

Florence-2 is an encoder-decoder prompted with a task token, which its processor turns
into the task's question; boxes come back as location tokens after their phrase
(`coords.florence2`). The tasks used here:

    <CAPTION_TO_PHRASE_GROUNDING>red circle   -> red circle<loc_53><loc_333><loc_933><loc_774>
    <OD>                                      -> circle<loc_..>x4square<loc_..>x4
    <OPEN_VOCABULARY_DETECTION>red circle     -> red circle<loc_..>x4
    <REGION_TO_DESCRIPTION><loc_..>x4         -> red circle

vLLM dropped encoder-decoder vision models from its V1 engine, so only the transformers
engine serves Florence-2.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from locvlm.adapters.base import Adapter, Question
from locvlm_client import Box, SizeLike

__all__ = ["Florence2Adapter"]

_LABEL = r"[^<>\n]{1,60}"


class Florence2Adapter(Adapter):
    """Florence-2 (`Florence2ForConditionalGeneration`)."""

    name = "florence2"
    title = "Florence-2"
    model_types = ("florence2",)
    codec_name = "florence2"
    vllm = False

    def _boxes(self, label: str) -> str:
        return f"(?:{label}(?:{self.codec.box_regex})+)+"

    def ground(self, phrase: str, size: SizeLike) -> Question:
        """Phrase grounding of `phrase` alone: the phrase, then each instance's box."""
        return Question(f"<CAPTION_TO_PHRASE_GROUNDING>{phrase}", self._boxes(re.escape(phrase)))

    def detect(self, categories: Sequence[str], size: SizeLike) -> Question:
        """`<OD>` for every object, or open-vocabulary detection of `categories`."""
        if categories:
            names = "|".join(re.escape(c) for c in categories)
            return Question(
                f"<OPEN_VOCABULARY_DETECTION>{', '.join(categories)}", self._boxes(f"(?:{names})")
            )
        return Question("<OD>", self._boxes(_LABEL))

    def describe(self, box: Box, size: SizeLike, context: bool) -> Question:
        """`<REGION_TO_DESCRIPTION>` of the box's location tokens (no context form)."""
        return Question(f"<REGION_TO_DESCRIPTION>{self.codec.encode([box], size)}", _LABEL)
