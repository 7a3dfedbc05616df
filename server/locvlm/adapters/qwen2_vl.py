"""Qwen2-VL: `<|object_ref_start|>phrase<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>`.

Coordinates are relative to 0-1000 of the image (`coords.qwen2_vl`). The grounding
prompt names the phrase between the reference tokens, as the model's grounding data
does; the answer repeats the reference and gives one box group per instance:

    Find <|object_ref_start|>the red circle<|object_ref_end|> in the image.
    -> <|object_ref_start|>the red circle<|object_ref_end|>
       <|box_start|>(53,333),(933,774)<|box_end|>   (one line: no break between)

An object that is not there is said in words; constrained, as "There is no red circle."
(Qwen2-VL has no empty box list). It has no list format that carries a label per box,
so detection is not offered.
"""

from __future__ import annotations

import re

from locvlm.adapters._qwen import QwenAdapter
from locvlm.adapters.base import Question
from locvlm.tasks.locpred import absent_regex
from locvlm_client import SizeLike

__all__ = ["Qwen2VLAdapter"]

_REF = "<|object_ref_start|>{phrase}<|object_ref_end|>"


class Qwen2VLAdapter(QwenAdapter):
    """Qwen2-VL (`Qwen2VLForConditionalGeneration`)."""

    name = "qwen2_vl"
    title = "Qwen2-VL"
    model_types = ("qwen2_vl",)
    codec_name = "qwen2_vl"
    tasks = frozenset({"ground", "describe", "spatial"})

    def ground(self, phrase: str, size: SizeLike) -> Question:
        """The phrase as an object reference; the answer repeats it, then its boxes."""
        ref = _REF.format(phrase=phrase)
        boxes = f"{re.escape(ref)}{self.codec.regex}"
        return Question(f"Find {ref} in the image.", f"{boxes}|{absent_regex(phrase)}")
