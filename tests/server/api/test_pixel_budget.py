"""The decoded-pixel budget: requests wait their turn for pixels, in order, and give them back."""

from __future__ import annotations

import asyncio
import base64
import io
from types import SimpleNamespace

import pytest
from PIL import Image

from locvlm.api.deps import Images, get_images
from locvlm.api.errors import PayloadTooLargeError
from locvlm.api.pixel_budget import PixelBudget
from locvlm.api.settings import Settings
from locvlm_client import ImageInput


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.anyio
async def test_pixels_are_taken_at_once_while_free_and_waited_for_after() -> None:
    budget = PixelBudget(100)
    assert await budget.acquire(60) == 60
    waiting = asyncio.create_task(budget.acquire(50))
    await _settle()
    assert not waiting.done()
    budget.release(60)
    assert await waiting == 50
    assert budget.free == 50


@pytest.mark.anyio
async def test_waiters_are_served_in_order_so_a_large_image_is_not_starved() -> None:
    budget = PixelBudget(100)
    await budget.acquire(80)
    large = asyncio.create_task(budget.acquire(90))
    await _settle()
    small = asyncio.create_task(budget.acquire(20))  # would fit now, but comes second
    await _settle()
    assert not small.done()
    budget.release(80)
    await _settle()
    assert large.done()
    assert not small.done()  # 10 left after the large one
    budget.release(90)
    assert await small == 20


@pytest.mark.anyio
async def test_a_cancelled_wait_takes_nothing_and_lets_the_next_one_in() -> None:
    budget = PixelBudget(100)
    await budget.acquire(50)
    first = asyncio.create_task(budget.acquire(90))
    await _settle()
    second = asyncio.create_task(budget.acquire(40))
    await _settle()
    first.cancel()
    assert await second == 40
    assert budget.free == 10
    assert first.cancelled()


@pytest.mark.anyio
async def test_more_than_the_total_is_clamped_to_it() -> None:
    budget = PixelBudget(100)
    taken = await budget.acquire(10**9)
    assert taken == 100
    assert budget.free == 0
    budget.release(taken)
    assert budget.free == 100


def test_an_empty_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        PixelBudget(0)


def _png(size: tuple[int, int]) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, "gray").save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


@pytest.mark.anyio
async def test_a_request_holds_its_images_pixels_until_it_is_done() -> None:
    settings = Settings(max_image_pixels=10_000, max_decoded_pixels=15_000)
    lifecycle = SimpleNamespace(pixels=PixelBudget(settings.max_decoded_pixels), fetch_client=None)
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace()))
    first = get_images(request, settings, lifecycle)  # type: ignore[arg-type]
    images: Images = await anext(first)
    image = await images.load(ImageInput(data=_png((100, 80))))
    assert image.size == (100, 80)
    assert lifecycle.pixels.free == 15_000 - 8_000
    second = get_images(request, settings, lifecycle)  # type: ignore[arg-type]
    other: Images = await anext(second)
    waiting = asyncio.create_task(other.load(ImageInput(data=_png((100, 90)))))
    await _settle()
    assert not waiting.done()  # 9,000 pixels are not free
    with pytest.raises(StopAsyncIteration):
        await anext(first)  # the first request is answered: its pixels come back
    assert (await waiting).size == (100, 90)
    with pytest.raises(StopAsyncIteration):
        await anext(second)
    assert lifecycle.pixels.free == 15_000


@pytest.mark.anyio
async def test_an_image_over_the_pixel_limit_is_refused_before_it_waits() -> None:
    settings = Settings(max_image_pixels=1_000, max_decoded_pixels=1_000)
    lifecycle = SimpleNamespace(pixels=PixelBudget(1_000), fetch_client=None)
    images = Images(settings, lifecycle)  # type: ignore[arg-type]
    await lifecycle.pixels.acquire(1_000)  # nothing free: a wait would hang
    with pytest.raises(PayloadTooLargeError, match="MP"):
        await images.load(ImageInput(data=_png((100, 80))))


def test_the_pixel_limit_must_fit_the_budget() -> None:
    with pytest.raises(ValueError, match="max_decoded_pixels"):
        Settings(max_image_pixels=2_000, max_decoded_pixels=1_000)
