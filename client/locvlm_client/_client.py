"""`Client` and `AsyncClient`: the API in two lines, with retries and typed answers.

    from locvlm_client import Client
    boxes = Client().ground("scene.png", "red circle").results[0].boxes

Both clients have the same methods; every method takes `timeout=` (seconds) for that
call. Connection errors, timeouts, 408, 429 and 5xx are retried with exponential
backoff and jitter (or as `Retry-After` says), up to `max_retries` times; then, and for
every other error status, the matching `APIError` subclass is raised.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from locvlm_client._box import Box
from locvlm_client._errors import (
    APIConnectionError,
    APITimeoutError,
    InvalidArgumentError,
    status_error,
)
from locvlm_client._images import Channels, ImageLike, data_url, to_image_input
from locvlm_client._retry import RetryPolicy
from locvlm_client._service import ModelList, Readiness
from locvlm_client._types import (
    CoordSpace,
    DescribeRequest,
    DescribeResponse,
    DetectRequest,
    DetectResponse,
    GroundRequest,
    GroundResponse,
    SpatialRequest,
    SpatialResponse,
)
from locvlm_client._video import (
    VideoAskRequest,
    VideoAskResponse,
    VideoInput,
    VideoTrackRequest,
    VideoTrackResponse,
)
from locvlm_client.openai_types import ChatCompletion

__all__ = ["DEFAULT_BASE_URL", "AsyncClient", "Client", "user_message"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 60.0
VERSION = "0.1.0"
M = TypeVar("M", bound=BaseModel)
H = TypeVar("H", httpx.Client, httpx.AsyncClient)
"""The httpx client a locvlm client sends with."""
T = TypeVar("T", httpx.BaseTransport, httpx.AsyncBaseTransport)
"""The httpx transport that client takes."""
BoxLike = Box | Sequence[float]


def user_message(
    text: str, image: ImageLike | None = None, channels: Channels | None = None
) -> dict[str, Any]:
    """An OpenAI-style user message with `text` and, optionally, one image."""
    if image is None:
        return {"role": "user", "content": text}
    url = data_url(image, channels)
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": url}},
        ],
    }


def _box(region: BoxLike) -> Box:
    return region if isinstance(region, Box) else Box.from_xyxy(region)


def _phrases(phrases: str | Sequence[str]) -> list[str]:
    return [phrases] if isinstance(phrases, str) else list(phrases)


def _regions(regions: BoxLike | Sequence[BoxLike]) -> list[Box]:
    if isinstance(regions, Box):
        return [regions]
    items: list[Any] = list(regions)
    if items and all(isinstance(v, int | float) for v in items):
        return [Box.from_xyxy(items)]  # one (x1, y1, x2, y2)
    return [_box(r) for r in items]


ClipLike = Any  # a list/tuple of ImageLike frames, or one video file: path, bytes or URL


def _clip(clip: ClipLike, channels: Channels | None) -> dict[str, Any]:
    """A list or tuple of images is the frames; anything else one video file (or URL)."""
    if isinstance(clip, list | tuple):
        return {"frames": [to_image_input(frame, channels) for frame in clip]}
    return {"video": VideoInput(**to_image_input(clip).model_dump())}


F = TypeVar("F", bound=Callable[..., dict[str, Any]])


def _refused_here(build: F) -> F:
    """A body builder that raises `InvalidArgumentError` (an `APIError`) for bad arguments.

    Instead of pydantic's `ValidationError` or a bare `ValueError`.
    """

    @functools.wraps(build)
    def checked(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return build(*args, **kwargs)
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(part) for part in first["loc"]) or None
            raise InvalidArgumentError(f"{param}: {first['msg']}", param=param) from None
        except (ValueError, TypeError) as exc:
            raise InvalidArgumentError(str(exc)) from exc

    return checked  # type: ignore[return-value]


class _Common(Generic[H, T]):
    """Settings, connection pool and request bodies of both clients (see `Client`)."""

    _http_class: Callable[..., H]  # httpx.Client or httpx.AsyncClient

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        headers: dict[str, str] | None = None,
        transport: T | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("LOCVLM_BASE_URL") or DEFAULT_BASE_URL).rstrip(
            "/"
        )
        self.api_key = api_key if api_key is not None else os.environ.get("LOCVLM_API_KEY")
        self.timeout = timeout
        self.retry = RetryPolicy(max_retries=max_retries)
        self.headers = {"User-Agent": f"locvlm-client/{VERSION}", **(headers or {})}
        if self.api_key:
            self.headers["Authorization"] = f"Bearer {self.api_key}"
        self._http: H = self._http_class(
            base_url=self.base_url, headers=self.headers, timeout=timeout, transport=transport
        )

    def _timeout(self, timeout: float | httpx.Timeout | None) -> Any:
        return self.timeout if timeout is None else timeout

    def _failure(self, exc: httpx.TransportError, path: str) -> APIConnectionError:
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"no answer from {self.base_url}{path} in time: {exc}")
        return APIConnectionError(f"cannot reach {self.base_url}{path}: {exc}")

    def _again(self, attempt: int, response: httpx.Response | None, retry: bool) -> bool:
        return retry and self.retry.should_retry(attempt, response)

    @staticmethod
    def _finish(response: httpx.Response, model: type[M], ok: tuple[int, ...] = ()) -> M:
        if response.is_success or response.status_code in ok:
            return model.model_validate(response.json())
        raise status_error(response)

    # --- request bodies -------------------------------------------------------------
    @staticmethod
    @_refused_here
    def _ground(
        image: ImageLike,
        phrases: str | Sequence[str],
        coords: CoordSpace,
        channels: Channels | None,
    ) -> dict[str, Any]:
        body = GroundRequest(
            image=to_image_input(image, channels), phrases=_phrases(phrases), coords=coords
        )
        return body.model_dump(exclude_none=True)

    @staticmethod
    @_refused_here
    def _describe(
        image: ImageLike,
        regions: BoxLike | Sequence[BoxLike],
        context: bool,
        channels: Channels | None,
        coords: CoordSpace = "pixel",
    ) -> dict[str, Any]:
        body = DescribeRequest(
            image=to_image_input(image, channels), regions=_regions(regions), context=context,
            coords=coords,
        )  # fmt: skip
        return body.model_dump(exclude_none=True)

    @staticmethod
    @_refused_here
    def _spatial(
        image: ImageLike, question: str, channels: Channels | None, coords: CoordSpace = "pixel"
    ) -> dict[str, Any]:
        body = SpatialRequest(
            image=to_image_input(image, channels), question=question, coords=coords
        )
        return body.model_dump(exclude_none=True)

    @staticmethod
    @_refused_here
    def _detect(
        image: ImageLike,
        categories: Sequence[str] | None,
        coords: CoordSpace,
        channels: Channels | None,
        second_look: bool | None,
    ) -> dict[str, Any]:
        cats = list(categories) if categories is not None else None
        image_input = to_image_input(image, channels)
        body = DetectRequest(
            image=image_input, categories=cats, coords=coords, second_look=second_look
        )
        return body.model_dump(exclude_none=True)

    @staticmethod
    @_refused_here
    def _track(
        clip: ClipLike, phrases: str | Sequence[str], coords: CoordSpace, channels: Channels | None
    ) -> dict[str, Any]:
        body = VideoTrackRequest(**_clip(clip, channels), phrases=_phrases(phrases), coords=coords)
        return body.model_dump(exclude_none=True)

    @staticmethod
    @_refused_here
    def _video_ask(
        clip: ClipLike, question: str, coords: CoordSpace, channels: Channels | None
    ) -> dict[str, Any]:
        body = VideoAskRequest(**_clip(clip, channels), question=question, coords=coords)
        return body.model_dump(exclude_none=True)

    @staticmethod
    def _chat(
        messages: Sequence[dict[str, Any]],
        model: str | None,
        max_tokens: int | None,
        temperature: float | None,
        extra: dict[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model or "default", "messages": list(messages)}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if temperature is not None:
            body["temperature"] = temperature
        return {**body, **(extra or {})}


class Client(_Common[httpx.Client, httpx.BaseTransport]):
    """The synchronous client; use it as a context manager or call `close()`.

    Keyword-only settings: `base_url` (else `LOCVLM_BASE_URL`, else
    http://127.0.0.1:8000), `api_key` (else `LOCVLM_API_KEY`), `timeout` (seconds per
    call, default 60), `max_retries` (default 2), extra `headers`, and `transport`
    (an httpx transport, e.g. for tests).
    """

    _http_class = httpx.Client

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _send(
        self, method: str, path: str, timeout: Any, json: Any = None, retry: bool = True
    ) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, path, json=json, timeout=self._timeout(timeout)
                )
                failure = None
            except httpx.TransportError as exc:
                response, failure = None, self._failure(exc, path)
            if not self._again(attempt, response, retry):
                if failure is not None:
                    raise failure
                assert response is not None
                return response
            time.sleep(self.retry.delay(attempt, response))
            attempt += 1

    def ground(
        self,
        image: ImageLike,
        phrases: str | Sequence[str],
        *,
        coords: CoordSpace = "pixel",
        channels: Channels | None = None,
        timeout: float | None = None,
    ) -> GroundResponse:
        """Every box of each phrase (`found=False` when a phrase is not in the image)."""
        body = self._ground(image, phrases, coords, channels)
        return self._finish(self._send("POST", "/v1/ground", timeout, body), GroundResponse)

    def describe(
        self,
        image: ImageLike,
        regions: BoxLike | Sequence[BoxLike],
        *,
        context: bool = True,
        coords: CoordSpace = "pixel",
        channels: Channels | None = None,
        timeout: float | None = None,
    ) -> DescribeResponse:
        """What is in each region (a `Box` or `(x1, y1, x2, y2)` pixels), in context."""
        body = self._describe(image, regions, context, channels, coords)
        return self._finish(self._send("POST", "/v1/describe", timeout, body), DescribeResponse)

    def spatial(
        self,
        image: ImageLike,
        question: str,
        *,
        coords: CoordSpace = "pixel",
        channels: Channels | None = None,
        timeout: float | None = None,
    ) -> SpatialResponse:
        """The answer to a spatial question and the boxes it rests on."""
        body = self._spatial(image, question, channels, coords)
        return self._finish(self._send("POST", "/v1/spatial", timeout, body), SpatialResponse)

    def detect(
        self,
        image: ImageLike,
        categories: Sequence[str] | None = None,
        *,
        coords: CoordSpace = "pixel",
        channels: Channels | None = None,
        second_look: bool | None = None,
        timeout: float | None = None,
    ) -> DetectResponse:
        """Every object (of `categories`, or of every category the model knows).

        `second_look`: each category asked again, what the listing missed added (higher
        recall, slower); False: the listing alone; None: the server's default (on).
        """
        body = self._detect(image, categories, coords, channels, second_look)
        return self._finish(self._send("POST", "/v1/detect", timeout, body), DetectResponse)

    def chat(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        extra: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> ChatCompletion:
        """An OpenAI-style chat completion (see `user_message` for image messages)."""
        body = self._chat(messages, model, max_tokens, temperature, extra)
        response = self._send("POST", "/v1/chat/completions", timeout, body)
        return self._finish(response, ChatCompletion)

    def track(
        self,
        clip: ClipLike,
        phrases: str | Sequence[str],
        *,
        coords: CoordSpace = "pixel",
        channels: Channels | None = None,
        timeout: float | None = None,
    ) -> VideoTrackResponse:
        """Each phrase through a clip (a list of frames, or a GIF/WebP/MP4 file or URL)."""
        body = self._track(clip, phrases, coords, channels)
        response = self._send("POST", "/v1/video/track", timeout, body)
        return self._finish(response, VideoTrackResponse)

    def ask_video(
        self,
        clip: ClipLike,
        question: str,
        *,
        coords: CoordSpace = "pixel",
        channels: Channels | None = None,
        timeout: float | None = None,
    ) -> VideoAskResponse:
        """A motion question about a clip, answered from the tracks it returns."""
        body = self._video_ask(clip, question, coords, channels)
        return self._finish(self._send("POST", "/v1/video/ask", timeout, body), VideoAskResponse)

    def models(self, *, timeout: float | None = None) -> ModelList:
        """The served model: name, codec, input size, vocabulary."""
        return self._finish(self._send("GET", "/v1/models", timeout), ModelList)

    def health(self, *, timeout: float | None = None) -> Readiness:
        """Readiness (`.ready`, `.status`: loading, ready, draining or dead); no retries."""
        response = self._send("GET", "/readyz", timeout, retry=False)
        return self._finish(response, Readiness, ok=(503,))


class AsyncClient(_Common[httpx.AsyncClient, httpx.AsyncBaseTransport]):
    """The asyncio twin of `Client`: the same settings and methods, awaited."""

    _http_class = httpx.AsyncClient

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _send(
        self, method: str, path: str, timeout: Any, json: Any = None, retry: bool = True
    ) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, path, json=json, timeout=self._timeout(timeout)
                )
                failure = None
            except httpx.TransportError as exc:
                response, failure = None, self._failure(exc, path)
            if not self._again(attempt, response, retry):
                if failure is not None:
                    raise failure
                assert response is not None
                return response
            await asyncio.sleep(self.retry.delay(attempt, response))
            attempt += 1

    async def ground(
        self,
        image: ImageLike,
        phrases: str | Sequence[str],
        *,
        coords: CoordSpace = "pixel",
        channels: Channels | None = None,
        timeout: float | None = None,
    ) -> GroundResponse:
        """Every box of each phrase (`found=False` when a phrase is not in the image)."""
        body = self._ground(image, phrases, coords, channels)
        return self._finish(await self._send("POST", "/v1/ground", timeout, body), GroundResponse)

    async def describe(
        self,
        image: ImageLike,
        regions: BoxLike | Sequence[BoxLike],
        *,
        context: bool = True,
        coords: CoordSpace = "pixel",
        channels: Channels | None = None,
        timeout: float | None = None,
    ) -> DescribeResponse:
        """What is in each region (a `Box` or `(x1, y1, x2, y2)` pixels), in context."""
        body = self._describe(image, regions, context, channels, coords)
        response = await self._send("POST", "/v1/describe", timeout, body)
        return self._finish(response, DescribeResponse)

    async def spatial(
        self,
        image: ImageLike,
        question: str,
        *,
        coords: CoordSpace = "pixel",
        channels: Channels | None = None,
        timeout: float | None = None,
    ) -> SpatialResponse:
        """The answer to a spatial question and the boxes it rests on."""
        body = self._spatial(image, question, channels, coords)
        response = await self._send("POST", "/v1/spatial", timeout, body)
        return self._finish(response, SpatialResponse)

    async def detect(
        self,
        image: ImageLike,
        categories: Sequence[str] | None = None,
        *,
        coords: CoordSpace = "pixel",
        channels: Channels | None = None,
        second_look: bool | None = None,
        timeout: float | None = None,
    ) -> DetectResponse:
        """Every object (of `categories`, or of every category the model knows).

        `second_look`: each category asked again, what the listing missed added (higher
        recall, slower); False: the listing alone; None: the server's default (on).
        """
        body = self._detect(image, categories, coords, channels, second_look)
        return self._finish(await self._send("POST", "/v1/detect", timeout, body), DetectResponse)

    async def chat(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        extra: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> ChatCompletion:
        """An OpenAI-style chat completion (see `user_message` for image messages)."""
        body = self._chat(messages, model, max_tokens, temperature, extra)
        response = await self._send("POST", "/v1/chat/completions", timeout, body)
        return self._finish(response, ChatCompletion)

    async def track(
        self,
        clip: ClipLike,
        phrases: str | Sequence[str],
        *,
        coords: CoordSpace = "pixel",
        channels: Channels | None = None,
        timeout: float | None = None,
    ) -> VideoTrackResponse:
        """Each phrase through a clip (a list of frames, or a GIF/WebP/MP4 file or URL)."""
        body = self._track(clip, phrases, coords, channels)
        response = await self._send("POST", "/v1/video/track", timeout, body)
        return self._finish(response, VideoTrackResponse)

    async def ask_video(
        self,
        clip: ClipLike,
        question: str,
        *,
        coords: CoordSpace = "pixel",
        channels: Channels | None = None,
        timeout: float | None = None,
    ) -> VideoAskResponse:
        """A motion question about a clip, answered from the tracks it returns."""
        body = self._video_ask(clip, question, coords, channels)
        response = await self._send("POST", "/v1/video/ask", timeout, body)
        return self._finish(response, VideoAskResponse)

    async def models(self, *, timeout: float | None = None) -> ModelList:
        """The served model: name, codec, input size, vocabulary."""
        return self._finish(await self._send("GET", "/v1/models", timeout), ModelList)

    async def health(self, *, timeout: float | None = None) -> Readiness:
        """Readiness (`.ready`, `.status`: loading, ready, draining or dead); no retries."""
        response = await self._send("GET", "/readyz", timeout, retry=False)
        return self._finish(response, Readiness, ok=(503,))
