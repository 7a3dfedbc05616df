"""The error hierarchy: one body shape, statuses, headers, and nothing internal leaked."""

import json

import pytest
from pydantic import ValidationError

from locvlm.api import errors
from locvlm.api.errors import (
    APIError,
    AuthenticationError,
    GatewayTimeoutError,
    InvalidRequestError,
    PayloadTooLargeError,
    RateLimitError,
    UnavailableError,
    UnprocessableError,
    UnsupportedMediaTypeError,
    from_domain,
    render_error,
    validation_error,
)
from locvlm.engines.errors import EngineDeadError, InvalidInputError, PromptTooLongError
from locvlm_client import ErrorResponse, GroundRequest


@pytest.mark.parametrize(
    ("cls", "status", "kind"),
    [
        (InvalidRequestError, 400, "invalid_request"),  # bad input
        (AuthenticationError, 401, "unauthorized"),  # no or wrong key
        (PayloadTooLargeError, 413, "payload_too_large"),  # over a limit
        (UnsupportedMediaTypeError, 415, "unsupported_media_type"),  # not an accepted image
        (UnprocessableError, 422, "unprocessable"),  # schema mismatch
        (RateLimitError, 429, "rate_limited"),  # concurrency bound
        (UnavailableError, 503, "unavailable"),  # engine not ready
        (GatewayTimeoutError, 504, "timeout"),  # too slow
    ],
)
def test_each_status_has_one_class_and_the_one_shape(cls, status: int, kind: str) -> None:
    exc = cls("what went wrong", param="image.data")
    got_status, body, _headers = render_error(exc)
    assert (got_status, exc.status_code) == (status, status)
    assert body == {"error": {"type": kind, "message": "what went wrong", "param": "image.data"}}
    assert ErrorResponse.model_validate(body).error.type == kind
    assert isinstance(exc, APIError)
    assert cls().message  # a default message
    assert render_error(cls())[1]["error"]["param"] is None


def test_every_public_class_is_exported() -> None:
    classes = {
        n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, APIError)
    }
    assert {n for n in classes if not n.startswith("_")} <= set(errors.__all__)


@pytest.mark.parametrize(
    ("exc", "headers"),
    [
        (RateLimitError(retry_after=2.2), {"Retry-After": "3"}),  # rounded up
        (RateLimitError(retry_after=0.01), {"Retry-After": "1"}),  # never 0
        (RateLimitError(), {"Retry-After": "1"}),  # default
        (UnavailableError(retry_after=30), {"Retry-After": "30"}),  # loading
        (AuthenticationError(), {"WWW-Authenticate": "Bearer"}),  # RFC 6750
        (InvalidRequestError(), {}),  # no extra headers
    ],
)
def test_headers(exc: APIError, headers: dict[str, str]) -> None:
    assert render_error(exc)[2] == headers


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("connect to postgres://admin:hunter2@10.0.0.5/db failed"),  # secret in a message
        KeyError("/srv/locvlm/engines/vllm_engine.py"),  # internal path
        RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),  # engine internals
        ZeroDivisionError(),  # plain bug
    ],
)
def test_internal_errors_leak_nothing(exc: Exception) -> None:
    try:
        raise exc
    except Exception as caught:  # with a live traceback, as in a handler
        status, body, headers = render_error(caught)
    text = json.dumps(body)
    assert status == 500
    assert body == {
        "error": {"type": "internal_error", "message": "internal server error", "param": None}
    }
    for leak in ("hunter2", "10.0.0.5", "/srv", "CUDA", "Traceback", type(exc).__name__):
        assert leak not in text
    assert headers == {}


def test_validation_errors_name_the_field_and_echo_no_input() -> None:
    secret = "c2VjcmV0IGJhc2U2NCBwYXlsb2Fk"
    with pytest.raises(ValidationError) as info:
        GroundRequest.model_validate({"image": {"data": secret, "url": "http://x"}, "phrases": []})
    raw = [{**e, "loc": ("body", *e["loc"])} for e in info.value.errors()]
    exc = validation_error(raw)
    status, body, _ = render_error(exc)
    assert status == 422
    assert body["error"]["param"] == "image"
    assert "(and 1 more)" in body["error"]["message"]
    assert secret not in json.dumps(body)


@pytest.mark.parametrize(
    ("loc", "param"),
    [
        (("body", "regions", 0, "x1"), "regions[0].x1"),  # list index
        (("body", "image", "data"), "image.data"),  # nested field
        (("query", "coords"), "coords"),  # query parameter
        (("body",), None),  # the whole body
        ((), None),  # no location
    ],
)
def test_validation_error_params(loc: tuple, param: str | None) -> None:
    assert validation_error([{"loc": loc, "msg": "Field required"}]).param == param


def test_no_validation_errors_still_answers_422() -> None:
    assert validation_error([]).status_code == 422


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (PromptTooLongError("prompt and answer need 900 tokens; the context is 512"), 400,
         {"type": "invalid_request", "param": None,
          "message": "too long for the model's context once tokenized; shorten the text"}),
        (InvalidInputError("send one image", param="messages"), 400,
         {"type": "invalid_request", "message": "send one image", "param": "messages"}),
        (EngineDeadError("engine process died (exit code -9)"), 503,
         {"type": "unavailable", "message": "the engine has failed", "param": None}),
    ],
)  # fmt: skip
def test_serving_and_engine_errors_are_mapped_here(
    exc: Exception, status: int, body: dict[str, object]
) -> None:
    assert render_error(from_domain(exc))[:2] == (status, {"error": body})


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("a bug's message"),  # not a refusal of the request
        ValidationError.from_exception_data("Box", []),  # a bad answer model: a ValueError too
    ],
)
def test_other_value_errors_are_not_the_callers_fault(exc: Exception) -> None:
    assert from_domain(exc).status_code == 500
    assert not isinstance(exc, errors.DOMAIN_ERRORS)
