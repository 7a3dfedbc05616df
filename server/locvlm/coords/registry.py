"""The registry of coordinate codecs, by the name users and checkpoints refer to."""

from __future__ import annotations

from typing import Any

from locvlm.coords.base import Codec
from locvlm.coords.diga import DIGACodec
from locvlm.coords.ivb import IVBCodec
from locvlm.coords.nfp import NFPCodec

__all__ = ["CODECS", "get_codec"]

CODECS: dict[str, type[Codec]] = {
    # our checkpoints' representations (the paper's three)
    "nfp": NFPCodec,
    "ivb": IVBCodec,
    "diga": DIGACodec,
    # peer model families
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
