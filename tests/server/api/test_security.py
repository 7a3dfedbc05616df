"""API keys, the request id and CORS, on the live server (keys and one CORS origin set)."""

from datetime import datetime
from typing import Any

import httpx
import pytest

from locvlm.api.app import create_app
from locvlm.api.security import key_matches
from locvlm.api.settings import Settings
from tests.server.api.live import API_KEY, LiveServer, error_of, shared_server

GROUND = {"image": {"data": "%%%"}, "phrases": ["a"]}  # valid JSON, 400 once authorized


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> LiveServer:
    return shared_server(request)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/v1/models", {}),
        ("POST", "/v1/ground", {"json": GROUND}),
        ("POST", "/v1/describe", {"json": {}}),  # 401 comes before 422
        ("POST", "/v1/spatial", {"json": {}}),
        ("POST", "/v1/detect", {"json": {}}),
        ("POST", "/v1/ground/upload", {"files": {"file": ("a", b"")}}),
        ("POST", "/v1/describe/upload", {}),
        ("POST", "/v1/spatial/upload", {}),
        ("POST", "/v1/detect/upload", {}),
    ],
)
@pytest.mark.parametrize(
    "authorization",
    [
        None,  # no header
        "Bearer wrong-key",  # not a key
        f"Bearer {API_KEY}x",  # a key's prefix matches
        f"Basic {API_KEY}",  # the wrong scheme
        "Bearer",  # no credentials
    ],
)
def test_v1_needs_a_key(
    method: str, path: str, kwargs: dict[str, Any], authorization: str | None, server: LiveServer
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.request(method, f"{server.url}{path}", headers=headers, **kwargs)
    assert error_of(response, 401)["type"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("key", [API_KEY, "another-key"])
def test_every_key_is_let_through(key: str, server: LiveServer) -> None:
    headers = {"Authorization": f"bearer {key}"}  # the scheme is case-insensitive
    response = httpx.post(f"{server.url}/v1/ground", json=GROUND, headers=headers)
    assert error_of(response, 400)["param"] == "image.data"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/docs", "/openapi.json"])
def test_probes_and_docs_are_open(path: str, server: LiveServer) -> None:
    assert httpx.get(f"{server.url}{path}").status_code == 200


@pytest.mark.parametrize(
    ("given", "echoed"),
    [
        ("trace-0af7651916cd43dd8448eb211c80319c", True),  # a trace id
        ("b6f1a3c2-9d7e-4f5a-8b1c-2d3e4f5a6b7c", True),  # a UUID
        ("has spaces", False),  # replaced
        ("x" * 129, False),  # too long: replaced
        (None, False),  # absent: made up
    ],
)
def test_request_id_is_echoed_and_logged(
    given: str | None, echoed: bool, server: LiveServer
) -> None:
    headers = {} if given is None else {"X-Request-ID": given}
    response = httpx.get(f"{server.url}/healthz", headers=headers)
    request_id = response.headers["x-request-id"]
    if echoed:
        assert request_id == given
    else:
        assert request_id != given
        assert len(request_id) == 32
        int(request_id, 16)
    server.wait_log('"GET /healthz" 200')
    server.wait_log(f"request_id={request_id}")


def test_errors_carry_the_request_id(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/v1/models", headers={"X-Request-ID": "err-1"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "err-1"


def test_cors_allows_only_the_configured_origin(server: LiveServer) -> None:
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip
    allowed = httpx.options(
        f"{server.url}/v1/ground", headers={"Origin": "https://app.example", **preflight}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx.options(
        f"{server.url}/v1/ground", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in other.headers
    simple = httpx.get(f"{server.url}/healthz", headers={"Origin": "https://app.example"})
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()


def test_cors_is_off_unless_configured() -> None:
    def has_cors(settings: Settings) -> bool:
        app = create_app(settings)
        return any(m.cls.__name__ == "CORSMiddleware" for m in app.user_middleware)

    assert not has_cors(Settings())
    assert has_cors(Settings(cors_origins=["https://app.example"]))


def test_api_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCVLM_API_KEYS", " one, two ,,")
    monkeypatch.setenv("LOCVLM_CORS_ORIGINS", "https://a.example,https://b.example")
    settings = Settings()
    assert settings.api_keys == ["one", "two"]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("given", "keys", "matches"),
    [
        ("k1", ["k1", "k2"], True),  # first key
        ("k2", ["k1", "k2"], True),  # a later key
        ("k", ["k1"], False),  # a prefix
        ("k1 ", ["k1"], False),  # trailing space
        ("", ["k1"], False),  # empty
        ("k1", [], False),  # no keys
        ("ключ", ["ключ"], True),  # non-ASCII
    ],
)
def test_key_matches(given: str, keys: list[str], matches: bool) -> None:
    assert key_matches(given, keys) is matches


def test_every_log_line_carries_a_timestamp(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/healthz", headers={"X-Request-ID": "stamped-line"})
    assert response.status_code == 200
    server.wait_log("request_id=stamped-line")
    [line] = [x for x in server.log().splitlines() if "request_id=stamped-line" in x]
    stamp = line.split(" ", 1)[0]
    assert datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z").year >= 2024, line
