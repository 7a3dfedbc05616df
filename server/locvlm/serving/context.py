"""What every endpoint's serving logic needs: the engine and its model family's adapter.

`ServingContext.ask` prepares a request's image for the model once (`Adapter.prepare`:
our checkpoints squash it to their square input), however many questions it asks about
it (one per phrase, region...), before the engine sees it: every engine's own
`prepare` is then a no-op, and the process engine sends the small image once. The
caller keeps the decoded original, whose size boxes are answered in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from PIL import Image

from locvlm.adapters import Adapter, get_adapter
from locvlm.coords import Codec
from locvlm.engines.base import Constraint, Engine, GenerationRequest, GenerationResult
from locvlm.engines.config import EngineConfig
from locvlm.model.sidecar import Sidecar
from locvlm.serving.arrivals import Arrivals

__all__ = ["ServingContext", "ServingObserver"]

_INLINE_PIXELS = 256 * 256
"""Images up to this size are prepared on the event loop (well under a millisecond, as
`api.images` decodes them); larger ones in a worker thread, so the server keeps
answering meanwhile."""


class ServingObserver(Protocol):
    """What serving reports as it answers (`locvlm.api.metrics.Metrics` counts it)."""

    def on_generation(self, result: GenerationResult, seconds: float) -> None:
        """One answer generated; `seconds`: the engine call it was part of."""

    def on_parse_failure(self, task: str) -> None:
        """An answer of `task` that its parser could not read."""

    def on_boxes(self, task: str, count: int) -> None:
        """`count` boxes returned to a caller of `task`."""


@dataclass
class ServingContext:
    """The engine, the model's adapter (prompts, codec, vocabulary), the answer limit."""

    engine: Engine
    sidecar: Sidecar
    max_new_tokens: int = EngineConfig.max_new_tokens
    constrained: bool = True  # constrain outputs to each task's answer syntax
    observer: ServingObserver | None = None  # metrics; None: nothing is reported
    arrivals: Arrivals | None = None  # the server's requests on their way (a batching hint)

    @cached_property
    def adapter(self) -> Adapter:
        """The served model's family adapter (built once, not per request)."""
        return get_adapter(self.sidecar)

    @property
    def codec(self) -> Codec:
        """The coordinate codec the model writes boxes with."""
        return self.adapter.codec

    @property
    def vocabulary(self) -> list[str]:
        """The categories the model knows (empty: open vocabulary)."""
        return self.adapter.vocabulary

    async def ask(
        self,
        image: Image.Image,
        questions: Sequence[str],
        regexes: Sequence[str | None],
        max_new_tokens: int | None = None,
        logprobs: bool = False,
    ) -> list[GenerationResult]:
        """Ask every question about `image` in one engine call (batched by the engine).

        `max_new_tokens` lowers the context's limit for these answers (never raises it);
        `logprobs`: the answers carry their tokens' log-probabilities.
        """
        if not questions:  # everything was answered without the model
            return []
        requests = await self._requests(image, questions, regexes, max_new_tokens, logprobs)
        start = time.perf_counter()
        results = await self.engine.generate(requests)
        if self.observer is not None:
            seconds = time.perf_counter() - start
            for result in results:
                self.observer.on_generation(result, seconds)
        return results

    async def stream(
        self,
        image: Image.Image,
        question: str,
        regex: str | None,
        max_new_tokens: int | None = None,
    ) -> AsyncGenerator[str | GenerationResult]:
        """Ask one question, the answer streamed: text pieces, then the result."""
        [request] = await self._requests(image, [question], [regex], max_new_tokens)
        start = time.perf_counter()
        async for piece in self.engine.stream(request):
            if isinstance(piece, GenerationResult) and self.observer is not None:
                self.observer.on_generation(piece, time.perf_counter() - start)
            yield piece

    async def _requests(
        self,
        image: Image.Image,
        questions: Sequence[str],
        regexes: Sequence[str | None],
        max_new_tokens: int | None,
        logprobs: bool = False,
    ) -> list[GenerationRequest]:
        limit = min(max_new_tokens or self.max_new_tokens, self.max_new_tokens)
        pixels = await self._prepared(image)
        coming = self.arrivals.arrived() if self.arrivals is not None else 0
        return [
            GenerationRequest(
                image=pixels, question=q, max_new_tokens=limit,
                constraint=Constraint(regex=r) if r and self.constrained else None,
                coming=coming, logprobs=logprobs,
            )
            for q, r in zip(questions, regexes, strict=True)
        ]  # fmt: skip

    async def _prepared(self, image: Image.Image) -> Image.Image:
        """`image` as the engine takes it (`Adapter.prepare`), off the loop when large."""
        if image.width * image.height <= _INLINE_PIXELS:
            return self.adapter.prepare(image)
        return await asyncio.to_thread(self.adapter.prepare, image)

    def report(self, task: str, parsed: bool, boxes: int = 0) -> None:
        """Tell the observer how one answer of `task` parsed and how many boxes it gave."""
        if self.observer is None:
            return
        if not parsed:
            self.observer.on_parse_failure(task)
        if boxes:
            self.observer.on_boxes(task, boxes)
