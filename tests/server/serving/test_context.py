"""`ServingContext.ask`: a request's image is prepared once, and large ones off the loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from PIL import Image

from locvlm.serving.context import ServingContext
from locvlm.serving.ground import ground
from tests.server.serving.recording import SIDECAR, RecordingEngine

PHRASES = [f"{p}{'s' * (i % 2)}" for i in range(16) for p in ("red circle", "blue square")]


class _Spy:
    """Wraps `Adapter.prepare`: counts calls, notes their threads, takes `delay` seconds."""

    def __init__(self, ctx: ServingContext, delay: float = 0.0) -> None:
        self.real, self.delay = ctx.adapter.prepare, delay
        self.threads: list[int] = []
        ctx.adapter.prepare = self  # type: ignore[method-assign]

    def __call__(self, image: Image.Image) -> Image.Image:
        self.threads.append(threading.get_ident())
        time.sleep(self.delay)
        return self.real(image)


@pytest.mark.anyio
async def test_a_large_image_is_prepared_once_off_the_loop_for_every_phrase() -> None:
    engine = RecordingEngine()
    ctx = ServingContext(engine, SIDECAR)
    spy = _Spy(ctx, delay=0.3)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    before = ticks
    answer = await ground(ctx, Image.new("RGB", (4000, 3000), "gray"), PHRASES)
    ticker.cancel()
    assert len(answer.results) == len(PHRASES)
    assert len(spy.threads) == 1  # once per request, not once per phrase
    assert spy.threads[0] != threading.get_ident()  # in a worker thread
    assert ticks - before >= 10  # the loop kept running while it was prepared
    assert len(engine.images) == 2  # one question per category ("red circles" is one)...
    assert {id(i) for i in engine.images} == {id(engine.images[0])}  # ...on one image
    assert engine.images[0].size == (64, 64)  # squashed to the model's input


@pytest.mark.anyio
async def test_a_small_image_is_prepared_once_on_the_loop() -> None:
    engine = RecordingEngine()
    ctx = ServingContext(engine, SIDECAR)
    spy = _Spy(ctx)
    await ground(ctx, Image.new("RGB", (120, 80), "gray"), ["red circle", "blue square"])
    assert spy.threads == [threading.get_ident()]
    assert [i.size for i in engine.images] == [(64, 64), (64, 64)]
