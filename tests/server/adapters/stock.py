"""Adapters as a stock checkpoint gets them, and a box comparison, for the adapter tests."""

from __future__ import annotations

from locvlm.adapters import ADAPTERS, Adapter
from locvlm.model.sidecar import Sidecar
from locvlm_client import Box

SIZES = [(1280, 960), (640, 480), (300, 800)]
"""Image sizes of the golden tests: a large and a small landscape, and a tall one."""


def stock(name: str, vocabulary: tuple[str, ...] = ()) -> Adapter:
    """The adapter `name` with its family's default codec, as for a stock checkpoint."""
    cls = ADAPTERS[name]
    sidecar = Sidecar(
        codec={"name": cls.codec_name}, preset=name, image_size=0, adapter=name,
        vocabulary=list(vocabulary),
    )  # fmt: skip
    return cls(sidecar)


def near(got: Box, want: tuple[float, float, float, float], px: float = 1.0) -> bool:
    """Whether every edge of `got` lies within `px` of `want`."""
    return all(abs(a - b) <= px for a, b in zip(got.to_xyxy(), want, strict=True))
