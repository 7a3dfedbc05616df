"""Qwen2.5-VL: JSON `bbox_2d` in pixels of the processor's resized input.

The processor resizes an image with `smart_resize` (sides multiples of 28, area within
its pixel bounds) and the model answers in pixels of that resized image. The engines
hand the processor the caller's image untouched, so the codec computes the same resize
from the original size and maps the numbers back (`coords.qwen2_5_vl`). A checkpoint
read without a `locvlm.json` gets the pixel bounds and patch size of its own
`preprocessor_config.json` (the released checkpoints allow up to 12,845,056 pixels, not
qwen-vl-utils' 1,003,520). Constrained answers stay within the resized image.

    Locate every red circle in the image and output the bbox coordinates in JSON format.
    -> [{"bbox_2d": [287, 210, 861, 630], "label": "red circle"}]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from locvlm.adapters._qwen import QwenJsonAdapter
from locvlm.coords._regex import int_range
from locvlm.coords.qwen2_5_vl import Qwen25VLCodec
from locvlm_client import SizeLike, as_size

__all__ = ["Qwen25VLAdapter"]


class Qwen25VLAdapter(QwenJsonAdapter):
    """Qwen2.5-VL (`Qwen2_5_VLForConditionalGeneration`)."""

    name = "qwen2_5_vl"
    title = "Qwen2.5-VL"
    model_types = ("qwen2_5_vl",)
    codec_name = "qwen2_5_vl"

    @classmethod
    def stock_codec(cls, folder: Path) -> dict[str, Any]:
        """The resize rule of the checkpoint's image processor (`preprocessor_config.json`).

        `size.shortest_edge`/`size.longest_edge` (transformers 5) or `min_pixels`/
        `max_pixels` bound the area; `patch_size` x `merge_size` is the side factor.
        """
        codec: dict[str, Any] = {"name": cls.codec_name}
        path = folder / "preprocessor_config.json"
        if not path.exists():
            return codec
        config = json.loads(path.read_text(encoding="utf-8"))
        size = config.get("size") or {}
        low = size.get("shortest_edge", config.get("min_pixels"))
        high = size.get("longest_edge", config.get("max_pixels"))
        if low is not None and high is not None:
            codec |= {"min_pixels": int(low), "max_pixels": int(high)}
        if "patch_size" in config and "merge_size" in config:
            codec["factor"] = int(config["patch_size"]) * int(config["merge_size"])
        return codec

    def values(self, size: SizeLike) -> tuple[str, str]:
        """Integers up to the resized width and height of an image of `size`."""
        codec = self.codec
        assert isinstance(codec, Qwen25VLCodec)
        width, height = codec.resized(as_size(size))
        return int_range(0, width), int_range(0, height)
