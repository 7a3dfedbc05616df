"""`together`: several asks at once; the first failure cancels the rest and is raised as is."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from PIL import Image

from locvlm.engines.base import GenerationRequest, GenerationResult
from locvlm.engines.errors import EngineUnavailableError
from locvlm.serving.context import ServingContext
from locvlm.serving.ground import ground
from locvlm.serving.together import together
from tests.server.serving.test_ground import _Tiled


@pytest.mark.anyio
async def test_results_come_in_the_order_of_the_works() -> None:
    async def after(seconds: float, value: int) -> int:
        await asyncio.sleep(seconds)
        return value

    assert await together(after(0.02, 1), after(0.0, 2), after(0.01, 3)) == [1, 2, 3]


@pytest.mark.anyio
async def test_the_first_failure_cancels_the_others_and_is_raised_unchanged() -> None:
    ended: list[str] = []

    async def waits() -> int:
        try:
            await asyncio.Event().wait()  # never set
        finally:
            ended.append("cancelled" if asyncio.current_task().cancelling() else "ended")  # type: ignore[union-attr]
        return 0

    async def fails() -> int:
        await asyncio.sleep(0)
        raise EngineUnavailableError("the engine went away")

    with pytest.raises(EngineUnavailableError, match="went away"):  # not an ExceptionGroup
        await together(waits(), fails(), waits())
    assert ended == ["cancelled", "cancelled"]  # both waited for, before the error came


@pytest.mark.anyio
async def test_cancelling_the_caller_cancels_every_work() -> None:
    started, ended = asyncio.Event(), []

    async def waits() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            ended.append(True)

    caller = asyncio.ensure_future(together(waits(), waits()))
    await started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert ended == [True, True]


class _ListingFails(_Tiled):
    """The whole image's call (its listing and second look) fails at once; each crop's
    listing waits for an answer that never comes (until cancelled)."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = 0

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        if len(requests) > 1:  # the whole image's listing and its categories' questions
            raise EngineUnavailableError("out of memory")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return []


@pytest.mark.anyio
async def test_a_tiled_ground_whose_whole_image_call_fails_stops_listing_its_crops() -> None:
    engine = _ListingFails()
    image = Image.new("RGB", (64, 128))
    with pytest.raises(EngineUnavailableError, match="out of memory"):
        await ground(ServingContext(engine, engine.sidecar), image, ["red circle"])
    assert engine.cancelled == 3  # the three crops' listings, not left running
