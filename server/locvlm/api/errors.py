"""The API's one exception hierarchy and the one JSON shape every error answers with.

Raise a subclass anywhere below the routes; the app's exception handlers turn it into a
response with `render_error(exc)`, which gives `(status, body, headers)` and leaves the
framework glue to the app:

    status, body, headers = render_error(exc)
    return JSONResponse(body, status_code=status, headers=headers)

Serving and the engines know no HTTP: they raise `locvlm.engines.errors`, and
`from_domain` (here only) says what the API answers each with.

Messages are written for the caller. Nothing internal reaches them: `render_error` answers
any exception that is not an `APIError` with a fixed 500 message, never its text or repr.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from locvlm.engines.errors import EngineDeadError, InvalidInputError, PromptTooLongError
from locvlm_client import ErrorBody, ErrorResponse

__all__ = [
    "DOMAIN_ERRORS",
    "APIError",
    "AuthenticationError",
    "GatewayTimeoutError",
    "InternalError",
    "InvalidRequestError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimitError",
    "UnavailableError",
    "UnprocessableError",
    "UnsupportedMediaTypeError",
    "from_domain",
    "render_error",
    "validation_error",
]


class APIError(Exception):
    """An error the API answers with `{"error": {"type", "message", "param"}}`.

    Attributes:
        status_code: The HTTP status, fixed per subclass.
        error_type: The machine-readable `error.type`, fixed per subclass.
        message: Human-readable and safe to show the caller.
        param: The request field at fault (dotted, e.g. `image.data`), if one is.
    """

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "internal server error"

    def __init_subclass__(
        cls, *, status: int = 0, kind: str = "", default: str = "", **kwargs: Any
    ) -> None:
        """`class X(APIError, status=..., kind=..., default=...)` sets the three ClassVars."""
        super().__init_subclass__(**kwargs)
        cls.status_code = status or cls.status_code
        cls.error_type = kind or cls.error_type
        cls.default_message = default or cls.default_message

    def __init__(self, message: str | None = None, *, param: str | None = None) -> None:
        self.message = message or self.default_message
        self.param = param
        super().__init__(self.message)

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers (e.g. `Retry-After`)."""
        return {}

    def body(self) -> dict[str, Any]:
        """The JSON body, validated against the client's `ErrorResponse` schema."""
        error = ErrorBody(type=self.error_type, message=self.message, param=self.param)
        return ErrorResponse(error=error).model_dump()


class InvalidRequestError(APIError, status=400, kind="invalid_request", default="invalid request"):
    """400: the request is malformed (bad base64, corrupt image, blocked URL...)."""


class AuthenticationError(
    APIError, status=401, kind="unauthorized", default="missing or invalid API key"
):
    """401: no API key, or not a valid one."""

    @property
    def headers(self) -> dict[str, str]:
        """RFC 6750: tell the caller which scheme to use."""
        return {"WWW-Authenticate": "Bearer"}


class NotFoundError(APIError, status=404, kind="not_found", default="not found"):
    """404: no such route, or a model name the server does not serve."""


class PayloadTooLargeError(
    APIError, status=413, kind="payload_too_large", default="payload too large"
):
    """413: the request, image or fetched body is over a configured limit."""


class UnsupportedMediaTypeError(
    APIError, status=415, kind="unsupported_media_type", default="unsupported media type"
):
    """415: not an image, or an image format the server does not accept."""


class UnprocessableError(
    APIError, status=422, kind="unprocessable", default="the request does not match the schema"
):
    """422: well-formed JSON that fails the request schema."""


class _RetryableError(APIError):
    """An error after which the caller may retry, told when by `Retry-After`."""

    def __init__(
        self, message: str | None = None, *, param: str | None = None, retry_after: float = 1.0
    ) -> None:
        super().__init__(message, param=param)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        """`Retry-After` in whole seconds (RFC 9110 allows no fractions), at least 1."""
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


class RateLimitError(
    _RetryableError,
    status=429,
    kind="rate_limited",
    default="too many requests in flight, retry later",
):
    """429: too many requests in flight; retry after `retry_after` seconds."""


class UnavailableError(
    _RetryableError, status=503, kind="unavailable", default="the server is not ready"
):
    """503: the engine is loading, draining or dead."""


class GatewayTimeoutError(APIError, status=504, kind="timeout", default="the request timed out"):
    """504: the request, or something it waited on (an image URL), took too long."""


class InternalError(APIError):
    """500: a bug; the details go to the log, never to the caller."""


_FROM_DOMAIN: dict[type[Exception], Callable[[Any], APIError]] = {
    # the engine's own message names token counts; the caller needs to know what to do
    PromptTooLongError: lambda _: InvalidRequestError(
        "too long for the model's context once tokenized; shorten the text"
    ),
    InvalidInputError: lambda exc: InvalidRequestError(exc.message, param=exc.param),
    EngineDeadError: lambda _: UnavailableError("the engine has failed"),
}

DOMAIN_ERRORS: tuple[type[Exception], ...] = tuple(_FROM_DOMAIN)
"""The serving and engine errors the app answers with `from_domain`."""


def from_domain(exc: Exception) -> APIError:
    """The API's answer to an error serving or an engine raised (500 for any other)."""
    for kind in type(exc).__mro__:
        if kind in _FROM_DOMAIN:
            return _FROM_DOMAIN[kind](exc)
    return InternalError()


def render_error(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON body and headers of the response that answers `exc`.

    Anything that is not an `APIError` becomes a generic 500 whose message says nothing
    about the exception; log it (with its traceback) before calling this.
    """
    error = exc if isinstance(exc, APIError) else InternalError()
    return error.status_code, error.body(), error.headers


def validation_error(errors: Sequence[Mapping[str, Any]]) -> UnprocessableError:
    """The 422 for pydantic/FastAPI validation errors: the first one, by field.

    Only each error's `loc` and `msg` are used; `input` and `ctx` (which echo what the
    caller sent, possibly megabytes of base64) are dropped.
    """
    if not errors:
        return UnprocessableError()
    first = errors[0]
    param = _dotted(first.get("loc", ()))
    message = str(first.get("msg", UnprocessableError.default_message))
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return UnprocessableError(message, param=param)


def _dotted(loc: Iterable[str | int]) -> str | None:
    """`("body", "regions", 0, "x1")` -> `regions[0].x1`; where the value sits is dropped."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None
