"""The SDK's exceptions: one class per HTTP status family, all under `APIError`.

Every error that came from the server carries its status, its message and error type
(the API's `{"error": {"type", "message", "param"}}` body) and the request id, which
the server logs too, so a failure can be found on both sides.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "GatewayTimeoutError",
    "InvalidArgumentError",
    "InternalServerError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServiceUnavailableError",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "status_error",
]

REQUEST_ID_HEADER = "X-Request-ID"


class APIError(Exception):
    """Base of every error the SDK raises about a request."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id


class InvalidArgumentError(APIError, ValueError):
    """A call's arguments were refused before anything was sent (no phrase, a bad box).

    Attributes:
        param: The request field at fault (dotted, e.g. `regions.0.x2`), if one is.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class APIConnectionError(APIError):
    """The server could not be reached (refused, reset, DNS, TLS)."""


class APITimeoutError(APIConnectionError):
    """No answer within the timeout."""


class APIStatusError(APIError):
    """The server answered with an error status."""

    status_code: int = 0

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: Any = None,
        type: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, request_id=response.headers.get(REQUEST_ID_HEADER))
        self.response = response
        self.status_code = response.status_code
        self.body = body
        self.type = type
        self.param = param

    def __str__(self) -> str:
        where = f" (param {self.param})" if self.param else ""
        rid = f" [request {self.request_id}]" if self.request_id else ""
        return f"{self.status_code} {self.type or 'error'}: {self.message}{where}{rid}"


class BadRequestError(APIStatusError):
    """400: the request is malformed (bad image, bad field)."""


class AuthenticationError(APIStatusError):
    """401: missing or wrong API key."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this."""


class NotFoundError(APIStatusError):
    """404: no such route or model."""


class PayloadTooLargeError(APIStatusError):
    """413: the request or the image is over the server's limits."""


class UnsupportedMediaTypeError(APIStatusError):
    """415: the image format (or the content type) is not supported."""


class UnprocessableEntityError(APIStatusError):
    """422: the body does not validate."""


class RateLimitError(APIStatusError):
    """429: the server is at its concurrency bound; retried automatically."""


class InternalServerError(APIStatusError):
    """5xx without a more specific class."""


class ServiceUnavailableError(InternalServerError):
    """503: loading, draining or dead; retried automatically."""


class GatewayTimeoutError(InternalServerError):
    """504: the server gave up on the request at its own timeout."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
    504: GatewayTimeoutError,
}


def status_error(response: httpx.Response) -> APIStatusError:
    """The exception for an error `response` (its body already read)."""
    body: Any = None
    message, type_, param = response.reason_phrase or "error", None, None
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        message = text[:500] or message
    else:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or message)
            type_, param = error.get("type"), error.get("param")
        elif isinstance(body, dict) and "detail" in body:  # a plain FastAPI/Starlette error
            message = str(body["detail"])
    status = response.status_code
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else APIStatusError
    return cls(message, response=response, body=body, type=type_, param=param)
