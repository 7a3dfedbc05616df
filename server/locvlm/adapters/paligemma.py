"""PaliGemma: `detect cat ; dog` -> `<locY1><locX1><locY2><locX2> cat ; ...`, y first, 1024 bins.

PaliGemma takes a task prefix instead of a chat: its processor puts the image tokens and
`<bos>` before the text and a newline after it, so `render` is the prefix alone. The
answer lists each object as four location tokens and its label, objects joined by
` ; ` (`coords.paligemma`); an object that is not there gives an empty answer.

Detection names its categories (`detect a ; b`); without any, the served vocabulary is
asked for, and an open-vocabulary model with no vocabulary refuses. Region description
is not a PaliGemma task.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from locvlm.adapters.base import Adapter, Question
from locvlm.engines.errors import InvalidInputError
from locvlm_client import Box, SizeLike

__all__ = ["PaliGemmaAdapter"]


class PaliGemmaAdapter(Adapter):
    """PaliGemma and PaliGemma 2 (`PaliGemmaForConditionalGeneration`)."""

    name = "paligemma"
    title = "PaliGemma"
    model_types = ("paligemma",)
    codec_name = "paligemma"
    tasks = frozenset({"ground", "detect", "spatial"})

    def _listing(self, labels: Sequence[str]) -> str:
        """Labelled boxes joined by ` ; `, or nothing (the empty answer)."""
        label = "(?:" + "|".join(re.escape(x) for x in labels) + ")"
        item = f"{self.codec.box_regex} {label}"
        return f"(?:{item}(?: ; {item})*)?"

    def ground(self, phrase: str, size: SizeLike) -> Question:
        """`detect {phrase}`: every instance, labelled with the phrase."""
        return Question(f"detect {phrase}", self._listing([phrase]))

    def read_ground(self, text: str, phrase: str, size: SizeLike) -> list[Box] | None:
        """The boxes (any label); an empty answer means none."""
        return [b.box for b in self.codec.decode_labeled(text, size)] if text.strip() else []

    def detect(self, categories: Sequence[str], size: SizeLike) -> Question:
        """`detect a ; b ; c` over `categories`, else over the served vocabulary.

        Raises:
            InvalidInputError: no categories and no vocabulary to ask for.
        """
        names = list(categories) or self.vocabulary
        if not names:
            raise InvalidInputError(
                "PaliGemma detects named categories: pass `categories`", param="categories"
            )
        return Question("detect " + " ; ".join(names), self._listing(names))
