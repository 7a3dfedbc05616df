"""Error mapping and retries, with `httpx.MockTransport` (faults a real server cannot be
made to produce on demand: a 500, a flapping connection, an HTTP-date Retry-After)."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

import locvlm_client._client as client_module
from locvlm_client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    GatewayTimeoutError,
    InternalServerError,
    PayloadTooLargeError,
    RateLimitError,
    ServiceUnavailableError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
)
from locvlm_client._retry import RetryPolicy, retry_after

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
OK_MODELS = {"object": "list", "data": []}


def _error(status: int, message: str = "nope", headers: dict[str, str] | None = None):
    body = {"error": {"type": "t", "message": message, "param": "image"}}
    return httpx.Response(status, json=body, headers={"X-Request-ID": "rid-1", **(headers or {})})


class Script:
    """A transport answering from a list; records the requests it saw."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", waited.append)

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(client_module.asyncio, "sleep", fake_sleep)
    return waited


def _client(script: Script, **kw: object) -> Client:
    return Client(base_url="http://api.test", transport=httpx.MockTransport(script), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (413, PayloadTooLargeError),
        (415, UnsupportedMediaTypeError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, ServiceUnavailableError),
        (504, GatewayTimeoutError),
        (418, APIStatusError),
    ],
)
def test_each_status_has_its_error(status: int, cls: type, sleeps: list[float]) -> None:
    script = Script(*[_error(status, "bad image")] * 3)
    with _client(script) as client, pytest.raises(cls) as caught:
        client.ground(PNG, "red circle")
    err = caught.value
    assert type(err) is cls
    assert (err.status_code, err.message, err.request_id) == (status, "bad image", "rid-1")
    assert err.type == "t"
    assert err.param == "image"
    assert "bad image" in str(err)
    assert "rid-1" in str(err)


def test_client_errors_are_not_retried(sleeps: list[float]) -> None:
    script = Script(_error(400))
    with _client(script) as client, pytest.raises(BadRequestError):
        client.spatial(PNG, "Is it?")
    assert len(script.seen) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_then_succeed(status: int, sleeps: list[float]) -> None:
    script = Script(_error(status), _error(status), httpx.Response(200, json=OK_MODELS))
    with _client(script, max_retries=2) as client:
        assert client.models().data == []
    assert len(script.seen) == 3
    assert len(sleeps) == 2


def test_backoff_grows_with_jitter_and_gives_up(sleeps: list[float]) -> None:
    script = Script(*[_error(502)] * 5)
    with _client(script, max_retries=4) as client, pytest.raises(InternalServerError):
        client.models()
    assert len(script.seen) == 5
    ceilings = [0.5, 1.0, 2.0, 4.0]
    assert all(c / 2 <= s <= c for s, c in zip(sleeps, ceilings, strict=True)), sleeps


def test_retry_after_seconds_is_honoured(sleeps: list[float]) -> None:
    script = Script(_error(429, headers={"Retry-After": "3"}), httpx.Response(200, json=OK_MODELS))
    with _client(script) as client:
        client.models()
    assert sleeps == [3.0]


def test_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=7), usegmt=True)
    response = httpx.Response(503, headers={"Retry-After": later})
    assert retry_after(response, now) == pytest.approx(7)
    assert retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) is None
    assert RetryPolicy().delay(0, httpx.Response(503, headers={"Retry-After": "99999"})) == 60


def test_zero_retries_means_one_try(sleeps: list[float]) -> None:
    script = Script(_error(503))
    with _client(script, max_retries=0) as client, pytest.raises(ServiceUnavailableError):
        client.models()
    assert len(script.seen) == 1
    assert sleeps == []
    with pytest.raises(ValueError, match="max_retries"):
        Client(max_retries=-1)


@pytest.mark.parametrize(
    ("fault", "cls"),
    [
        (httpx.ConnectError("refused"), APIConnectionError),
        (httpx.ReadTimeout("slow"), APITimeoutError),
    ],
)
def test_transport_faults_are_retried_then_raised(fault: Exception, cls: type, sleeps) -> None:
    script = Script(fault, fault, fault)
    with _client(script) as client, pytest.raises(cls) as caught:
        client.detect(PNG)
    assert len(script.seen) == 3
    assert len(sleeps) == 2
    assert "api.test/v1/detect" in str(caught.value)


def test_a_flapping_connection_recovers(sleeps: list[float]) -> None:
    script = Script(httpx.ConnectError("reset"), httpx.Response(200, json=OK_MODELS))
    with _client(script) as client:
        assert client.models().object == "list"


def test_non_json_error_bodies_still_raise_clearly(sleeps: list[float]) -> None:
    script = Script(httpx.Response(502, text="<html>bad gateway</html>"))
    with _client(script, max_retries=0) as client, pytest.raises(InternalServerError) as caught:
        client.models()
    assert "bad gateway" in caught.value.message


def test_health_reports_not_ready_without_raising_or_retrying(sleeps: list[float]) -> None:
    body = {"status": "loading", "in_flight": 0, "engine": None}
    script = Script(httpx.Response(503, json=body))
    with _client(script) as client:
        state = client.health()
    assert (state.status, state.ready, len(script.seen)) == ("loading", False, 1)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCVLM_BASE_URL", "http://env.test:9/")
    monkeypatch.setenv("LOCVLM_API_KEY", "k-env")
    script = Script(httpx.Response(200, json=OK_MODELS))
    with Client(transport=httpx.MockTransport(script)) as client:
        client.models()
    request = script.seen[0]
    assert str(request.url) == "http://env.test:9/v1/models"
    assert request.headers["Authorization"] == "Bearer k-env"
    assert request.headers["User-Agent"].startswith("locvlm-client/")
    with Client(api_key="k-arg", base_url="http://arg.test") as explicit:
        assert explicit.base_url == "http://arg.test"
        assert explicit.api_key == "k-arg"


def test_constructor_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        Client("http://positional.test")  # type: ignore[misc]


def test_per_call_timeout_reaches_the_transport(sleeps: list[float]) -> None:
    script = Script(httpx.Response(200, json=OK_MODELS))
    with _client(script, timeout=60) as client:
        client.models(timeout=1.5)
    assert script.seen[0].extensions["timeout"]["read"] == 1.5


@pytest.mark.anyio
async def test_async_client_maps_and_retries_the_same(sleeps: list[float]) -> None:
    script = Script(_error(429, headers={"Retry-After": "2"}), _error(413, "too big"))
    transport = httpx.MockTransport(script)
    async with AsyncClient(base_url="http://api.test", transport=transport) as client:
        with pytest.raises(PayloadTooLargeError) as caught:
            await client.ground(PNG, ["a"])
    assert sleeps == [2.0]
    assert caught.value.message == "too big"
    script = Script(httpx.ConnectError("down"))
    async with AsyncClient(base_url="http://api.test", transport=httpx.MockTransport(script),
                           max_retries=0) as client:  # fmt: skip
        with pytest.raises(APIConnectionError):
            await client.models()


def test_bad_arguments_are_an_api_error_raised_before_sending() -> None:
    from PIL import Image

    from locvlm_client import APIError, Client, InvalidArgumentError

    image = Image.new("RGB", (32, 32))
    with Client(base_url="http://127.0.0.1:9", max_retries=0) as client:  # nothing listens
        with pytest.raises(InvalidArgumentError) as no_phrase:
            client.ground(image, [])
        with pytest.raises(InvalidArgumentError) as bad_box:
            client.describe(image, (10, 10, 5, 40))
    assert isinstance(no_phrase.value, APIError)
    assert no_phrase.value.param == "phrases"
    assert isinstance(bad_box.value, ValueError)  # callers that caught ValueError still do
