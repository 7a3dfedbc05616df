"""What every endpoint's serving logic needs: the engine and how its model writes text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from locvlm.coords import Codec, get_codec
from locvlm.engines.base import Constraint, Engine, GenerationRequest, GenerationResult
from locvlm.model.sidecar import Sidecar

__all__ = ["ServingContext"]


@dataclass
class ServingContext:
    """The engine, the model's codec and vocabulary, and the answer-length limit."""

    engine: Engine
    sidecar: Sidecar
    max_new_tokens: int = 96
    constrained: bool = True  # constrain outputs to each task's answer syntax

    @property
    def codec(self) -> Codec:
        """The coordinate codec the model writes boxes with."""
        return get_codec(**self.sidecar.codec)

    @property
    def vocabulary(self) -> list[str]:
        """The categories the model knows (empty: open vocabulary)."""
        return list(self.sidecar.vocabulary)

    async def ask(
        self, image: Image.Image, questions: Sequence[str], regexes: Sequence[str | None]
    ) -> list[GenerationResult]:
        """Ask every question about `image` in one engine call (batched by the engine)."""
        requests = [
            GenerationRequest(
                image=image, question=q, max_new_tokens=self.max_new_tokens,
                constraint=Constraint(regex=r) if r and self.constrained else None,
            )
            for q, r in zip(questions, regexes, strict=True)
        ]  # fmt: skip
        return await self.engine.generate(requests)
