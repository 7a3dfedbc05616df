"""Qwen3-VL: JSON `bbox_2d` relative to 0-1000, whatever size the processor resized to.

    Locate every red circle in the image and output the bbox coordinates in JSON format.
    -> [{"bbox_2d": [102, 345, 512, 789], "label": "red circle"}]

Its chat template has no default system prompt.
"""

from __future__ import annotations

from locvlm.adapters._qwen import QwenJsonAdapter

__all__ = ["Qwen3VLAdapter"]


class Qwen3VLAdapter(QwenJsonAdapter):
    """Qwen3-VL (`Qwen3VLForConditionalGeneration`)."""

    name = "qwen3_vl"
    title = "Qwen3-VL"
    model_types = ("qwen3_vl",)
    codec_name = "qwen3_vl"
    system = None
