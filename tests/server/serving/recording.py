"""A scripted engine for the serving tests: one box for every question, what was sent kept."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from locvlm.engines.base import GenerationRequest, GenerationResult
from locvlm.model.sidecar import Sidecar
from tests.server.engines.scripted import ScriptedEngine

__all__ = ["SIDECAR", "RecordingEngine"]

SIDECAR = Sidecar(
    codec={"name": "ivb", "bins": 32}, preset="tiny", image_size=64,
    vocabulary=["red circle", "blue square"],
)  # fmt: skip
"""A tiny-shapes checkpoint that knows two categories."""


class RecordingEngine(ScriptedEngine):
    """Answers every question with one box, and keeps the questions and images sent."""

    def __init__(self, sidecar: Sidecar = SIDECAR) -> None:
        super().__init__(sidecar)
        self.asked: list[str] = []
        self.images: list[Image.Image] = []

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.asked += [r.question for r in requests]
        self.images += [r.image for r in requests]
        return [GenerationResult("[2, 2, 10, 10]", 5, 5) for _ in requests]
