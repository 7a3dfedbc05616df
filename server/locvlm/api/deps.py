"""What routes depend on, as named types: `async def route(serving: ServingDep, ...)`.

Everything comes from `app.state` (set by `create_app`), never from module globals. The
dependencies are `async def` although they never wait: FastAPI runs a plain `def` one in
a thread pool, a thread hop per dependency per request (measured by `bench/api.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from PIL import Image

from locvlm.api.errors import (
    AuthenticationError,
    InvalidRequestError,
    UnavailableError,
    UnsupportedMediaTypeError,
)
from locvlm.api.images import ImageLimits, decode_image_async, image_pixels, read_image
from locvlm.api.lifecycle import Lifecycle
from locvlm.api.metrics import Metrics
from locvlm.api.security import key_matches
from locvlm.api.settings import Settings
from locvlm.api.video import VideoLimits, check_clip, decode_video, video_header
from locvlm.serving.context import ServingContext
from locvlm_client import ImageInput

__all__ = [
    "JSON_BODY",
    "MULTIPART_BODY",
    "REQUIRE_API_KEY",
    "Images",
    "ImagesDep",
    "LifecycleDep",
    "ServingDep",
    "SettingsDep",
]


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_lifecycle(request: Request) -> Lifecycle:
    """The app's lifecycle: phase, engine, in-flight count."""
    lifecycle: Lifecycle = request.app.state.lifecycle
    return lifecycle


SettingsDep = Annotated[Settings, Depends(get_settings)]
LifecycleDep = Annotated[Lifecycle, Depends(get_lifecycle)]


async def get_serving(lifecycle: LifecycleDep) -> ServingContext:
    """The serving context; `limits.RequestLimits` let the request in only when ready.

    Raises:
        UnavailableError: 503, the engine was shut down since the request was let in.
    """
    if lifecycle.serving is None:
        raise UnavailableError("the engine is shut down", retry_after=5)
    return lifecycle.serving


ServingDep = Annotated[ServingContext, Depends(get_serving)]

_bearer = HTTPBearer(
    auto_error=False, description="`Authorization: Bearer <key>`, one of LOCVLM_API_KEYS."
)


async def require_api_key(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    """Let the request through when keys are off, or it carries one of them.

    Raises:
        AuthenticationError: 401, no key or a wrong one.
    """
    if not settings.api_keys:
        return
    if credentials is None or not key_matches(credentials.credentials, settings.api_keys):
        raise AuthenticationError()


REQUIRE_API_KEY = Depends(require_api_key)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


async def require_json(request: Request) -> None:
    """JSON routes take `application/json` (415 otherwise, e.g. for a form or a file)."""
    kind = _media_type(request)
    if kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedMediaTypeError(
            "send application/json (files go to the /upload variant)", param="content-type"
        )


async def require_multipart(request: Request) -> None:
    """Upload routes take `multipart/form-data` (415 otherwise)."""
    if _media_type(request) != "multipart/form-data":
        raise UnsupportedMediaTypeError("send multipart/form-data", param="content-type")


JSON_BODY = Depends(require_json)
MULTIPART_BODY = Depends(require_multipart)


@dataclass
class Images:
    """Loads request images under the settings' limits (see `locvlm.api.images`).

    Each image's pixels are taken from the server's `PixelBudget` before it is decoded
    and held until the request's answer is complete (`release`, by `get_images`).
    """

    settings: Settings
    lifecycle: Lifecycle
    metrics: Metrics | None = None  # times each loaded image
    held: int = 0  # pixels taken from the budget

    async def load(self, image: ImageInput, param: str = "image") -> Image.Image:
        """A JSON request's image (base64, data URL or URL)."""
        client = self.lifecycle.fetch_client
        start = time.perf_counter()
        raw, where = await read_image(image, self.settings, client, param=param)
        loaded = await self._decode(raw, where)
        self._loaded("data" if image.data is not None else "url", start)
        return loaded

    async def upload(self, file: UploadFile, param: str = "file") -> Image.Image:
        """An uploaded file's image; its declared content type is ignored."""
        data = await file.read()
        start = time.perf_counter()
        loaded = await self._decode(data, param)
        self._loaded("upload", start)
        return loaded

    async def clip(self, frames: Sequence[ImageInput] | None, video: ImageInput | None,
                   ) -> list[Image.Image]:  # fmt: skip
        """A JSON request's clip: its `frames`, or its `video` file (exactly one is set)."""
        limits = VideoLimits.from_settings(self.settings)
        if frames is not None:
            check_clip(len(frames), (1, 1), 0.0, limits, "frames")  # the count, first
            loaded = [await self.load(f, param=f"frames[{i}]") for i, f in enumerate(frames)]
            sizes = {im.size for im in loaded}
            if len(sizes) > 1:
                raise InvalidRequestError(
                    f"the frames differ in size ({', '.join(f'{w}x{h}' for w, h in sizes)})",
                    param="frames",
                )
            check_clip(len(loaded), loaded[0].size, 0.0, limits, "frames")
            return loaded
        if video is None:
            raise InvalidRequestError("give frames or video", param="video")
        client = self.lifecycle.fetch_client
        raw, where = await read_image(video, self.settings, client, param="video",
                                      max_bytes=limits.max_bytes)  # fmt: skip
        return await self._video(raw, where)

    async def video_upload(self, file: UploadFile, param: str = "file") -> list[Image.Image]:
        """An uploaded video file's frames (GIF, WebP or MP4, told by its bytes)."""
        return await self._video(await file.read(), param)

    async def _video(self, data: bytes, param: str) -> list[Image.Image]:
        limits = VideoLimits.from_settings(self.settings)
        header = video_header(data, limits, param=param)  # refused before waiting
        self.held += await self.lifecycle.pixels.acquire(header.pixels)
        return await asyncio.to_thread(decode_video, data, limits, param=param)

    async def _decode(self, data: bytes, param: str) -> Image.Image:
        limits = ImageLimits.from_settings(self.settings)
        pixels = image_pixels(data, limits, param=param)  # the header: refused before waiting
        self.held += await self.lifecycle.pixels.acquire(pixels)
        return await decode_image_async(data, limits, param=param)

    def release(self) -> None:
        """Give the request's pixels back to the budget."""
        self.lifecycle.pixels.release(self.held)
        self.held = 0

    def _loaded(self, source: str, start: float) -> None:
        if self.metrics is not None:
            self.metrics.image_loaded(source, time.perf_counter() - start)


async def get_images(
    request: Request, settings: SettingsDep, lifecycle: LifecycleDep
) -> AsyncIterator[Images]:
    """The request's image loader; its pixels go back to the budget when it is done."""
    images = Images(settings, lifecycle, getattr(request.app.state, "metrics", None))
    try:
        yield images
    finally:
        images.release()


ImagesDep = Annotated[Images, Depends(get_images)]
