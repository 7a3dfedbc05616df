"""The app factory's wiring, OpenAPI and error handlers; schemathesis on the live server."""

from collections.abc import Sequence
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from locvlm.api.app import create_app
from locvlm.api.settings import Settings
from locvlm.engines.base import GenerationRequest, GenerationResult
from locvlm.engines.errors import EngineDeadError, InvalidInputError, PromptTooLongError
from locvlm.model.sidecar import Sidecar
from locvlm.serving.context import ServingContext
from tests.server.api.live import AUTH, LiveServer, b64, encoded, error_of, scene, shared_server
from tests.server.engines.scripted import ScriptedEngine

V1_POSTS = [f"/v1/{task}{variant}" for task in ("ground", "describe", "spatial", "detect",
                                                "video/track", "video/ask")
            for variant in ("", "/upload")]  # fmt: skip


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> LiveServer:
    return shared_server(request)


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings())


def test_routes(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    assert set(V1_POSTS) | {"/v1/models", "/v1/chat/completions", "/healthz", "/readyz",
                            "/metrics"} == set(paths)  # fmt: skip
    assert all(set(paths[p]) == {"post"} for p in V1_POSTS)
    assert {"/docs", "/openapi.json"} <= {getattr(r, "path", "") for r in app.routes}


@pytest.mark.parametrize("path", V1_POSTS)
def test_openapi_declares_key_and_errors(path: str, app: FastAPI) -> None:
    operation = app.openapi()["paths"][path]["post"]
    assert operation["security"] == [{"HTTPBearer": []}]
    assert {"200", "400", "401", "413", "415", "422", "429", "503", "504"} <= set(
        operation["responses"]
    )
    error = operation["responses"]["429"]["content"]["application/json"]["schema"]
    assert error["$ref"].endswith("/ErrorResponse")


def test_openapi_uses_the_client_models(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    for name in ("GroundRequest", "GroundResponse", "DescribeRequest", "SpatialResponse",
                 "DetectResponse", "ErrorResponse", "Box", "ImageInput"):  # fmt: skip
        assert name in schemas


EXTRA = b'{"image": {"data": "x"}, "phrases": ["a"], "extra": 1}'


@pytest.mark.parametrize(
    ("method", "path", "body", "media_type", "status", "kind"),
    [
        ("GET", "/nowhere", None, None, 404, "not_found"),  # unknown path
        ("GET", "/v1/ground", None, None, 405, "method_not_allowed"),  # wrong method
        ("POST", "/v1/ground", b"{oops", "application/json", 400, "invalid_request"),  # bad JSON
        ("POST", "/v1/ground", b"a=b", "text/plain", 415, "unsupported_media_type"),  # not JSON
        ("POST", "/v1/ground", b"{}", None, 415, "unsupported_media_type"),  # no content type
        ("POST", "/v1/ground", b"[]", "application/json", 422, "unprocessable"),  # not an object
        ("POST", "/v1/ground", EXTRA, "application/json", 422, "unprocessable"),  # unknown field
    ],
)
def test_errors_have_one_shape(
    method: str,
    path: str,
    body: bytes | None,
    media_type: str | None,
    status: int,
    kind: str,
    server: LiveServer,
) -> None:
    headers = {"content-type": media_type} if media_type else {}
    with server.client() as client:
        response = client.request(method, path, content=body, headers=headers)
    assert error_of(response, status)["type"] == kind


def test_validation_errors_do_not_echo_the_input(server: LiveServer) -> None:
    secret = "c2VjcmV0LWltYWdlLWJ5dGVz"
    body = {"image": {"data": secret, "url": "https://x.example/a.png"}, "phrases": ["a"]}
    response = httpx.post(f"{server.url}/v1/ground", json=body, headers=AUTH)
    assert error_of(response, 422)["param"] == "image"
    assert secret not in response.text


@pytest.mark.anyio
async def test_internal_errors_say_nothing_internal() -> None:
    app = create_app(Settings())

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret path /etc/shadow")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        response = await client.get("/boom")
    error = error_of(response, 500)
    assert error["type"] == "internal_error"
    assert "secret" not in response.text
    assert response.headers["x-request-id"]


class _Refusing(ScriptedEngine):
    """An engine that raises `error` for every request."""

    name = "refusing"

    def __init__(self, error: Exception) -> None:
        super().__init__(Sidecar(codec={"name": "ivb"}, preset="tiny-shapes", image_size=32))
        self.error = error

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        raise self.error


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (PromptTooLongError("need 900 tokens; the context is 512"), 400, "invalid_request"),
        (InvalidInputError("not this", param="phrases"), 400, "invalid_request"),  # serving's
        (EngineDeadError("the child died"), 503, "unavailable"),  # mid-request
        (ValueError("a bug"), 500, "internal_error"),  # not "too long for the context"
        (ValidationError.from_exception_data("Box", []), 500, "internal_error"),  # a ValueError
    ],
)
async def test_serving_errors_are_answered_by_the_api_alone(
    error: Exception, status: int, kind: str
) -> None:
    app = create_app(Settings())
    engine = _Refusing(error)
    app.state.lifecycle.serving = ServingContext(engine, engine.sidecar)  # ready, no lifespan
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    body = {"image": b64(encoded(scene((96, 64))[0])), "phrases": ["red circle"]}
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        response = await client.post("/v1/ground", json=body)
    answered = error_of(response, status)
    assert answered["type"] == kind
    assert "900" not in answered["message"]  # the engine's own words stay in the log
    assert "a bug" not in answered["message"]


# --- schemathesis ------------------------------------------------------------------------
# By its strategies: its pytest plugin's lazy loader breaks on pytest 9's Function nodes.
# Every check but "schema-valid data is accepted": a schema-valid image field is rarely a
# decodable image, and "exactly one of data and url" is not expressible in the schema.
@pytest.fixture(scope="module")
def api_schema(server: LiveServer) -> Any:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", path) for path in [*V1_POSTS, "/v1/chat/completions"]]
    + [("GET", "/v1/models"), ("GET", "/readyz")],
)
def test_fuzzed_requests_never_get_a_5xx(method: str, path: str, api_schema: Any) -> None:
    operation = api_schema[path][method]
    modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if method == "POST" else [])

    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in modes)))
    @settings(max_examples=16, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=AUTH, excluded_checks=[positive_data_acceptance])

    fuzz()
