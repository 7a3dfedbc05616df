"""API keys, the request id, CORS.

- API keys: `LOCVLM_API_KEYS=key1,key2` makes every `/v1` route require
  `Authorization: Bearer <key>` (compared in constant time); unset, the API is open.
- Request id: `X-Request-ID` is taken from the request when it is a sane token, else
  made up; it is echoed on the response and logged with each request's outcome (and
  with the traceback of any unhandled error, which the caller sees as a bare 500).
- CORS is off unless `LOCVLM_CORS_ORIGINS` lists the origins browsers may call from.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from locvlm.api.errors import render_error
from locvlm.api.settings import Settings

__all__ = ["REQUEST_ID_HEADER", "RequestIdMiddleware", "add_cors", "key_matches"]

_log = logging.getLogger("locvlm.api.access")

REQUEST_ID_HEADER = "X-Request-ID"
# What a caller's id may look like: a UUID, a trace id, a short token. Anything else
# (too long, spaces, control characters) is replaced, so it can't forge log lines.
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def key_matches(given: str, keys: Sequence[str]) -> bool:
    """Whether `given` is one of `keys`; every key is compared, each in constant time."""
    found = False
    for key in keys:
        found |= hmac.compare_digest(given.encode(), key.encode())
    return found


class RequestIdMiddleware:
    """Give every request an id (`scope["state"]["request_id"]`), echo it, log the outcome."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request with its id; add the header; log one line when it ends."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 0
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # a bug: log it with the id, answer 500 saying nothing
            _log.exception("request_id=%s: unhandled %s", request_id, type(exc).__name__)
            if not status:
                code, body, headers = render_error(exc)
                await JSONResponse(body, code, headers)(scope, receive, send_with_id)
        finally:
            ms = (time.perf_counter() - start) * 1000
            client = scope.get("client") or ("-", 0)
            _log.info('%s "%s %s" %s %.1fms request_id=%s', client[0], scope["method"],
                      scope["path"], status or "-", ms, request_id)  # fmt: skip


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def add_cors(app: FastAPI, settings: Settings) -> None:
    """Let browsers on `settings.cors_origins` call the API; nothing when none are set."""
    if not settings.cors_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["authorization", "content-type", "x-request-id"],
        expose_headers=["x-request-id", "retry-after"],
        max_age=600,
    )
