"""The request image loader takes each image's pixels from the server's budget."""

from __future__ import annotations

import asyncio
import io

import pytest
from fastapi import UploadFile
from PIL import Image

from locvlm.api.deps import Images
from locvlm.api.errors import PayloadTooLargeError
from locvlm.api.lifecycle import Lifecycle
from locvlm.api.settings import Settings


def _png(width: int, height: int) -> UploadFile:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    out.seek(0)
    return UploadFile(out, filename="scene.png")


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def _loader(**overrides: int) -> tuple[Images, Lifecycle]:
    settings = Settings(**overrides)  # type: ignore[arg-type]
    lifecycle = Lifecycle(settings)
    return Images(settings, lifecycle), lifecycle


@pytest.mark.anyio
async def test_an_image_holds_its_pixels_until_the_request_releases_them() -> None:
    images, lifecycle = _loader(max_image_pixels=10_000, max_decoded_pixels=20_000)
    loaded = await images.upload(_png(100, 60))
    assert loaded.size == (100, 60)
    assert lifecycle.pixels.free == 20_000 - 6_000
    images.release()
    assert lifecycle.pixels.free == 20_000
    assert images.held == 0


@pytest.mark.anyio
async def test_a_second_request_waits_for_the_pixels_of_the_first() -> None:
    first, lifecycle = _loader(max_image_pixels=10_000, max_decoded_pixels=10_000)
    second = Images(first.settings, lifecycle)
    await first.upload(_png(100, 80))
    waiting = asyncio.create_task(second.upload(_png(100, 50)))
    await _settle()
    assert not waiting.done()  # 8,000 held of 10,000: 5,000 more do not fit
    first.release()
    assert (await waiting).size == (100, 50)
    assert lifecycle.pixels.free == 5_000


@pytest.mark.anyio
async def test_an_image_over_the_limit_is_refused_without_taking_or_waiting() -> None:
    first, lifecycle = _loader(max_image_pixels=10_000, max_decoded_pixels=10_000)
    await first.upload(_png(100, 100))  # the whole budget is held
    second = Images(first.settings, lifecycle)
    with pytest.raises(PayloadTooLargeError):
        await asyncio.wait_for(second.upload(_png(200, 100)), timeout=5)
    assert second.held == 0


def test_the_pixel_limit_must_fit_the_budget() -> None:
    with pytest.raises(ValueError, match="max_decoded_pixels"):
        Settings(max_image_pixels=20_000, max_decoded_pixels=10_000)
