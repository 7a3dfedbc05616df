"""What the Qwen-VL families share: ChatML with vision tokens, and JSON box answers.

Qwen2-VL, Qwen2.5-VL and Qwen3-VL read one image between `<|vision_start|>` and
`<|vision_end|>` (the processor expands `<|image_pad|>` to the image's patches) inside
a ChatML user turn. Qwen2.5-VL and Qwen3-VL answer grounding questions with a JSON list
of `{"bbox_2d": [...], "label": ...}` objects when asked for JSON; they differ in the
coordinate space (their codecs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from locvlm.adapters.base import Adapter, Question
from locvlm.coords._json import JsonCodec
from locvlm_client import Box, SizeLike

__all__ = ["QwenAdapter", "QwenJsonAdapter", "chatml"]

_IMAGE = "<|vision_start|><|image_pad|><|vision_end|>"
_LABEL = r'[^"\\<>\n]{1,60}'
"""A label the model names itself (open vocabulary): a short string without markup."""
_EMPTY = re.compile(r"\s*(?:```(?:json)?\s*)?\[\s*\]\s*(?:```)?\s*")


def chatml(question: str, system: str | None) -> str:
    """One ChatML user turn with the image first, up to where the assistant answers."""
    head = f"<|im_start|>system\n{system}<|im_end|>\n" if system else ""
    return f"{head}<|im_start|>user\n{_IMAGE}{question}<|im_end|>\n<|im_start|>assistant\n"


def _choice(labels: Sequence[str]) -> str:
    return "(?:" + "|".join(re.escape(label) for label in labels) + ")" if labels else _LABEL


class QwenAdapter(Adapter):
    """The Qwen-VL chat format (`system` None: the family's template has no default)."""

    system: str | None = "You are a helpful assistant."

    def render(self, question: str) -> str:
        """ChatML with the image before the question."""
        return chatml(question, self.system)

    def describe(self, box: Box, size: SizeLike, context: bool) -> Question:
        """The region in the family's own box text; the answer is free text."""
        where = self.codec.encode([box], size)
        ask = "and how it relates to the objects around it" if context else "in a few words"
        return Question(f"Describe the object in the region {where} {ask}.")


class QwenJsonAdapter(QwenAdapter):
    """Qwen2.5-VL and Qwen3-VL: prompts that ask for JSON `bbox_2d` lists."""

    def _json(self) -> JsonCodec:
        codec = self.codec
        if not isinstance(codec, JsonCodec):
            raise ValueError(f"{self.title} needs a JSON box codec, got {codec.name}")
        return codec

    def values(self, size: SizeLike) -> tuple[str, str]:
        """Regexes of a box's x and y numbers for an image of `size`."""
        return self._json().value_regexes

    def _listing(self, labels: Sequence[str] | None, size: SizeLike) -> str:
        """A JSON list of labelled boxes (labels from `labels`, or any when None), or []."""
        codec = self._json()
        first, second = self.values(size)
        values = ", ".join([first, second, first, second])
        label = _choice(labels or ())
        item = rf'\{{"{codec.key}": \[{values}\], "label": "{label}"\}}'
        return rf"\[\]|\[{item}(?:, {item})*\]"

    def says_none(self, text: str) -> bool:
        """Empty, "There is no ...", or an empty JSON list (fenced or not)."""
        return super().says_none(text) or _EMPTY.fullmatch(text) is not None

    def ground(self, phrase: str, size: SizeLike) -> Question:
        """Every instance of `phrase` as JSON; `[]` when there is none."""
        return Question(
            f"Locate every {phrase} in the image and output the bbox coordinates in JSON format.",
            self._listing([phrase], size),
        )

    def detect(self, categories: Sequence[str], size: SizeLike) -> Question:
        """Every object (of `categories`) with its label, as JSON."""
        if categories:
            names = ", ".join(categories)
            text = (
                f"Locate every object of these categories: {names}. "
                "Output the bbox coordinates and labels in JSON format."
            )
        else:
            text = (
                "Detect every object in the image. "
                "Output the bbox coordinates and labels in JSON format."
            )
        return Question(text, self._listing(list(categories) or self.vocabulary or None, size))
