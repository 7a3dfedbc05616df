"""The registry of coordinate codecs, by the name users and checkpoints refer to."""

from __future__ import annotations

from typing import Any

from locvlm.coords.base import Codec
from locvlm.coords.cogvlm import CogVLMCodec
from locvlm.coords.diga import DIGACodec
from locvlm.coords.florence2 import Florence2Codec
from locvlm.coords.gemini import GeminiCodec
from locvlm.coords.ivb import IVBCodec
from locvlm.coords.kosmos2 import Kosmos2Codec
from locvlm.coords.minigpt_v2 import MiniGPTv2Codec
from locvlm.coords.nfp import NFPCodec
from locvlm.coords.paligemma import PaliGemmaCodec
from locvlm.coords.qwen2_5_vl import Qwen25VLCodec
from locvlm.coords.qwen2_vl import Qwen2VLCodec
from locvlm.coords.qwen3_vl import Qwen3VLCodec
from locvlm.coords.shikra import ShikraCodec

__all__ = ["CODECS", "get_codec"]

CODECS: dict[str, type[Codec]] = {
    # our checkpoints' representations (the paper's three)
    "nfp": NFPCodec,
    "ivb": IVBCodec,
    "diga": DIGACodec,
    # peer model families
    "shikra": ShikraCodec,
    "minigpt_v2": MiniGPTv2Codec,
    "kosmos2": Kosmos2Codec,
    "qwen2_vl": Qwen2VLCodec,
    "qwen2_5_vl": Qwen25VLCodec,
    "qwen3_vl": Qwen3VLCodec,
    "florence2": Florence2Codec,
    "paligemma": PaliGemmaCodec,
    "cogvlm": CogVLMCodec,
    "gemini": GeminiCodec,
}


def get_codec(name: str, **params: Any) -> Codec:
    """Build the codec registered as `name` with its parameters.

    Raises:
        ValueError: for an unknown name or parameters the codec does not take.
    """
    try:
        cls = CODECS[name]
    except KeyError:
        raise ValueError(f"unknown codec {name!r}; known: {', '.join(sorted(CODECS))}") from None
    try:
        return cls(**params)
    except TypeError as exc:  # an unknown keyword: say which codec and what it takes
        raise ValueError(f"bad parameters for codec {name!r}: {exc}") from None
