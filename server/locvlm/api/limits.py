"""What a `/v1` request may cost: slots, bytes, time, and how much it may ask for.

`RequestLimits` (ASGI middleware) guards every `/v1` request, in this order:
- draining, loading or dead: 503 at once (`Retry-After`);
- with `LOCVLM_API_KEYS` set, no valid `Authorization: Bearer` key: 401 at once, before a
  slot is taken or a byte of body read, so clients without a key cannot hold slots;
- `max_in_flight` requests already running: 429 at once with `Retry-After`; there is
  no queue, so load beyond the bound costs nothing but the refusal;
- `Content-Length` over `max_request_bytes`: 413 before a byte of body is read;
- then, holding a slot until the answer's last byte is handed to the server (not
  until the request's cleanup: a keep-alive client's next request may follow at once):
  the body is read (413 once it passes the limit, whatever the
  headers said), and the app runs while the connection is watched: a client that
  disconnects cancels the request, which frees its engine work. Reading and answering
  together get `request_timeout_s`; past it the request is cancelled and answered 504.
  When the server's drain times out (SIGTERM, then `drain_timeout_s`), a request still
  in flight is cancelled and answered 503, in the same error shape.

This is the one check of the server's phase: a dependency that reaches the serving
context later (`deps.get_serving`) relies on it. `check_texts` bounds what a request
may ask for (422 beyond). A prompt too long for the model in tokens is the engine's to
tell (`PromptTooLongError`, answered 400 by the app's handlers).
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from locvlm.api import errors
from locvlm.api.lifecycle import Lifecycle
from locvlm.api.security import key_matches
from locvlm.api.settings import Settings

__all__ = ["RequestLimits", "check_texts", "send_error"]

_log = logging.getLogger("locvlm.api")


class _ClientGoneError(Exception):
    """The client closed the connection before its answer was sent."""


class _AbortedError(Exception):
    """The server's drain timed out with this request still in flight."""


async def _unless(aborted: asyncio.Event, work: Coroutine[Any, Any, None]) -> None:
    """Run `work`; cancel it when `aborted` is set first.

    Raises:
        _AbortedError: `aborted` was set before `work` finished.
    """
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(aborted.wait())
    try:
        await asyncio.wait((task, waiter), return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            raise _AbortedError
        await task
    finally:
        for pending in (task, waiter):
            pending.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)


async def send_error(scope: Scope, send: Send, error: errors.APIError) -> None:
    """Answer with `error` in the API's error shape."""
    status, body, headers = errors.render_error(error)
    await JSONResponse(body, status_code=status, headers=headers)(scope, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - JSONResponse never reads
    return {"type": "http.disconnect"}


class RequestLimits:
    """Bound concurrency, body size and time of the requests under `prefix`."""

    def __init__(self, app: ASGIApp, lifecycle: Lifecycle, prefix: str = "/v1") -> None:
        self.app, self.lifecycle, self.prefix = app, lifecycle, prefix
        self.settings: Settings = lifecycle.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse, or run the request within its bounds (see the module docstring)."""
        if scope["type"] != "http" or not _under(scope["path"], self.prefix):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await send_error(scope, send, refusal)
            return
        self.lifecycle.enter()
        held = True

        def release() -> None:  # once: at the answer's last message, or at the end
            nonlocal held
            if held:
                held = False
                self.lifecycle.leave()

        try:
            with self.lifecycle.arrivals.admitted():
                await self._bounded(scope, receive, send, release)
        finally:
            release()

    def _refusal(self, scope: Scope) -> errors.APIError | None:
        """Why the request is refused before it starts, if it is."""
        phase = self.lifecycle.phase
        if phase != "ready":
            return errors.UnavailableError(f"the server is {phase}", retry_after=5)
        keys = self.settings.api_keys
        if keys and not key_matches(_bearer(scope), keys):
            return errors.AuthenticationError()
        if self.lifecycle.in_flight >= self.settings.max_in_flight:
            return errors.RateLimitError(
                f"{self.settings.max_in_flight} requests in flight; retry later", retry_after=1
            )
        declared = _content_length(scope)
        if declared is not None and declared > self.settings.max_request_bytes:
            return _too_large(self.settings.max_request_bytes)
        return None

    async def _bounded(
        self, scope: Scope, receive: Receive, send: Send, release: Callable[[], None]
    ) -> None:
        sent: list[Message] = []  # the response's start and last messages, once sent

        async def tracked(message: Message) -> None:
            last = message["type"] == "http.response.body" and not message.get("more_body")
            if last:  # the slot is free before the client can have its answer (and send
                release()  # its next request on the same connection)
            await send(message)
            if message["type"] == "http.response.start" or not message.get("more_body"):
                sent.append(message)

        async def serve() -> None:
            body = await _read_body(receive, self.settings.max_request_bytes)
            await _run_watched(self.app, scope, body, receive, tracked, lambda: len(sent) > 1)

        deadline = asyncio.timeout(self.settings.request_timeout_s)
        try:
            async with deadline:
                await _unless(self.lifecycle.aborted, serve())
        except _AbortedError:
            if not sent:
                await send_error(scope, send, errors.UnavailableError(
                    "the server is shutting down: its drain timed out", retry_after=5
                ))  # fmt: skip
        except TimeoutError:
            if not deadline.expired():
                raise
            _log.warning("%s %s: timed out after %gs", scope["method"], scope["path"],
                         self.settings.request_timeout_s)  # fmt: skip
            if not sent:
                seconds = f"{self.settings.request_timeout_s:g}"
                await send_error(
                    scope, send, errors.GatewayTimeoutError(f"no answer within {seconds} s")
                )
        except errors.PayloadTooLargeError as error:
            await send_error(scope, send, error)
        except _ClientGoneError:
            _log.info("%s %s: client disconnected, request cancelled", scope["method"],
                      scope["path"])  # fmt: skip


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _too_large(limit: int) -> errors.PayloadTooLargeError:
    return errors.PayloadTooLargeError(f"the request body is over {limit} bytes")


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refused as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGoneError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _run_watched(
    app: ASGIApp,
    scope: Scope,
    body: bytes,
    receive: Receive,
    send: Send,
    answered: Callable[[], bool],
) -> None:
    """Run the app on the read `body`; cancel it if the client leaves before the answer.

    Raises:
        _ClientGoneError: the client disconnected before the whole answer was sent.
    """
    gone = asyncio.Event()
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def watch() -> None:
        # The body is read: what the server says next is the disconnect (which it also
        # reports once the answer is out).
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    async def respond() -> None:
        await app(scope, replay, send)

    answer = asyncio.create_task(respond())
    watcher = asyncio.create_task(watch())
    try:
        await asyncio.wait((answer, watcher), return_when=asyncio.FIRST_COMPLETED)
        if not answer.done() and not answered():
            raise _ClientGoneError
        await answer  # its result, or its exception; after the answer, its cleanup
    finally:
        for task in (answer, watcher):
            task.cancel()
        await asyncio.gather(answer, watcher, return_exceptions=True)


def check_texts(
    texts: Sequence[str], settings: Settings, param: str, *, max_count: int | None = None
) -> None:
    """Bound a request's phrases (or categories, or question): count, length, characters.

    Not blank, no control characters (tab and line breaks aside), no lone surrogates.
    Text goes into prompts and into the answer's constraint pattern: a NUL or a lone
    surrogate there fails the tokenizer or the grammar compiler, so it is refused here.

    Raises:
        errors.UnprocessableError: 422, naming the offending field.
    """
    if max_count is not None and len(texts) > max_count:
        raise errors.UnprocessableError(f"at most {max_count} items per request", param=param)
    for i, text in enumerate(texts):
        where = param if max_count is None else f"{param}[{i}]"
        if not text.strip():
            raise errors.UnprocessableError("must not be blank", param=where)
        if len(text) > settings.max_phrase_chars:
            raise errors.UnprocessableError(
                f"longer than {settings.max_phrase_chars} characters", param=where
            )
        bad = next((c for c in text if _unprintable(c)), None)
        if bad is not None:
            raise errors.UnprocessableError(
                f"must not contain the character U+{ord(bad):04X}", param=where
            )


def _unprintable(char: str) -> bool:
    """A control character other than tab and line breaks, or a lone surrogate."""
    kind = unicodedata.category(char)
    return (kind == "Cc" and char not in "\t\n\r") or kind == "Cs"


def _bearer(scope: Scope) -> str:
    """The key of the request's `Authorization: Bearer <key>` header ("" without one)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            return key.strip() if scheme.lower() == "bearer" else ""
    return ""
