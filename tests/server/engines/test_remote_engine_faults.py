"""RemoteEngine under faults a real server cannot be made to produce on demand.

`httpx.MockTransport` plays the replicas (refusing connections, answering 500, timing
out); the last tests use a real HTTP server on loopback and a port nobody listens on.
"""

import asyncio
import base64
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from PIL import Image

from locvlm.engines.base import Constraint, GenerationRequest
from locvlm.engines.errors import EngineDeadError
from locvlm.engines.remote_engine import NoReplicaError, RemoteEngine, RemoteStatusError
from locvlm.model.sidecar import Sidecar

pytestmark = pytest.mark.anyio

SIDE = 32
SIDECAR = Sidecar(codec={"name": "ivb"}, preset="tiny-shapes", image_size=SIDE)
URLS = ["http://a:8000", "http://b:8000/v1", "http://c:8000/"]
Handler = Callable[[httpx.Request], httpx.Response]


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def completion(text: str = "[1, 2, 3, 4]", finish: str = "stop") -> dict[str, Any]:
    return {
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 70, "completion_tokens": 9},
    }


def replica(calls: list[str], down: set[str] = frozenset(), status: int = 200) -> Handler:  # type: ignore[assignment]
    """Replicas that log each call by host; those in `down` refuse connections."""

    def handle(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        calls.append(f"{host}{request.url.path}")
        if host in down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "tiny"}, {"id": "other"}]})
        return httpx.Response(status, json=completion() if status == 200 else {"error": "x"})

    return handle


def engine(handler: Handler, clock: Clock | None = None, **options: Any) -> RemoteEngine:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return RemoteEngine(client, URLS, SIDECAR, model="tiny", clock=clock or Clock(), **options)


def request(question: str = "Where is the red circle?", **kw: Any) -> GenerationRequest:
    return GenerationRequest(Image.new("RGB", (80, 50), "white"), question, **kw)


async def test_round_robin_over_replicas() -> None:
    calls: list[str] = []
    remote = engine(replica(calls))
    for _ in range(6):
        [result] = await remote.generate([request()])
        assert result.text == "[1, 2, 3, 4]"
        assert (result.prompt_tokens, result.completion_tokens) == (70, 9)
    assert [c.split("/")[0] for c in calls] == ["a", "b", "c"] * 2
    assert {c.partition("/")[2] for c in calls} == {"v1/chat/completions"}  # /v1 not doubled
    await remote.shutdown()


async def test_connection_error_ejects_then_expiry_readmits() -> None:
    calls: list[str] = []
    clock = Clock()
    remote = engine(replica(calls, down={"b"}), clock, eject_s=30.0)
    hosts = []
    for _ in range(4):
        await remote.generate([request()])
        hosts.append([c.split("/")[0] for c in calls])
        calls.clear()
    # b fails, the same request goes on to c; then b is skipped while ejected
    assert hosts == [["a"], ["b", "c"], ["a"], ["c"]]
    assert remote.replicas == [("http://a:8000", True), ("http://b:8000", False),
                               ("http://c:8000", True)]  # fmt: skip
    clock.now += 31.0  # ejection over: b is tried again, fails again, and is ejected again
    await remote.generate([request(), request(), request()])
    assert sorted(c.split("/")[0] for c in calls) == ["a", "a", "b", "c"]
    assert [ok for _, ok in remote.replicas] == [True, False, True]
    await remote.shutdown()


async def test_probe_readmits_an_ejected_replica_early() -> None:
    calls: list[str] = []
    down = {"b"}
    remote = engine(replica(calls, down=down), eject_s=3600.0)
    assert await remote.probe() == 2
    assert [ok for _, ok in remote.replicas] == [True, False, True]
    down.clear()  # b comes back long before its ejection ends
    assert await remote.probe() == 3
    assert [ok for _, ok in remote.replicas] == [True, True, True]
    await remote.shutdown()


@pytest.mark.parametrize(
    "status",
    [
        400,  # bad request: a retry would get the same answer
        500,  # the replica failed on this request: never resent
        503,  # overloaded: resending elsewhere is the caller's decision
    ],
)
async def test_http_error_is_not_retried(status: int) -> None:
    calls: list[str] = []
    remote = engine(replica(calls, status=status), retries=5)
    with pytest.raises(RemoteStatusError) as info:
        await remote.generate([request()])
    assert info.value.status_code == status
    assert calls == ["a/v1/chat/completions"]
    assert all(ok for _, ok in remote.replicas)  # an answer is not a reason to eject
    await remote.shutdown()


async def test_retries_are_bounded_then_no_replica() -> None:
    calls: list[str] = []
    remote = engine(replica(calls, down={"a", "b", "c"}), retries=4)
    with pytest.raises(NoReplicaError) as info:
        await remote.generate([request()])
    assert isinstance(info.value, EngineDeadError)  # the API reports it as unavailable
    # 5 tries: each replica once, then, all ejected, the one due back first
    assert len(calls) == 5
    assert not remote.ready
    await remote.shutdown()


async def test_timeout_is_not_retried() -> None:
    calls: list[str] = []

    def slow(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host)
        raise httpx.ReadTimeout("no answer in time", request=request)

    remote = engine(slow, retries=3)
    with pytest.raises(TimeoutError):
        await remote.generate([request()])
    assert calls == ["a"]  # it may still be generating: a resend would double the work
    assert all(ok for _, ok in remote.replicas)
    await remote.shutdown()


async def test_connect_timeout_counts_as_a_connection_error() -> None:
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host)
        if request.url.host == "a":
            raise httpx.ConnectTimeout("syn unanswered", request=request)
        return httpx.Response(200, json=completion())

    remote = engine(handle)
    await remote.generate([request()])
    assert calls == ["a", "b"]
    await remote.shutdown()


async def test_ready_and_model_come_from_the_models_listing() -> None:
    calls: list[str] = []
    down = {"a", "b", "c"}
    client = httpx.AsyncClient(transport=httpx.MockTransport(replica(calls, down=down)))
    remote = RemoteEngine(client, URLS, SIDECAR, clock=Clock())
    assert await remote.probe() == 0
    assert not remote.ready
    assert remote.model is None
    with pytest.raises(NoReplicaError):
        await remote.generate([request()])
    down.discard("c")
    assert await remote.probe() == 1
    assert remote.ready
    assert remote.model == "tiny"  # the first model listed
    await remote.shutdown()
    assert not remote.ready


async def test_request_body_shape() -> None:
    bodies: list[dict[str, Any]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=completion("  [5, 6, 7, 8] ", "length"))

    remote = engine(handle, max_new_tokens=20)
    constraint = Constraint(choices=("yes", "no"))
    [plain, _] = await remote.generate(
        [request(max_new_tokens=50), request("Is it left?", constraint=constraint)]
    )
    assert (plain.text, plain.finish_reason) == ("[5, 6, 7, 8]", "length")
    first, second = bodies
    assert first["model"] == "tiny"
    assert first["max_tokens"] == 20  # the server's limit caps the request's
    assert first["temperature"] == 0.0
    assert "structured_outputs" not in first
    assert second["structured_outputs"] == {"regex": constraint.for_engine()}
    [message] = second["messages"]
    image_part, text_part = message["content"]
    assert text_part == {"type": "text", "text": "Is it left?"}
    prefix, encoded = image_part["image_url"]["url"].split(",", 1)
    assert prefix == "data:image/png;base64"
    image = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert (image.format, image.size) == ("PNG", (SIDE, SIDE))  # squashed before sending
    await remote.shutdown()


async def test_cancelling_the_caller_frees_in_flight_requests() -> None:
    started = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    remote = engine(hang)  # type: ignore[arg-type]
    task = asyncio.create_task(remote.generate([request(), request()]))
    await asyncio.wait_for(started.wait(), 5)
    assert remote.stats().running == 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert remote.stats().running == 0
    await remote.shutdown()


# --- a real HTTP server on loopback -----------------------------------------------
class _Replica(BaseHTTPRequestHandler):
    delay_s = 0.0

    def do_GET(self) -> None:
        self._answer({"object": "list", "data": [{"id": "served-tiny"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(self.delay_s)
        self._answer(completion(f"{body['model']}: [0, 0, 9, 9]"))

    def _answer(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except BrokenPipeError:
            pass  # the client timed out and left

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Replica)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    _Replica.delay_s = 0.0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_real_server_beside_a_dead_port(loopback: str) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    client = httpx.AsyncClient(timeout=httpx.Timeout(0.3))
    remote = RemoteEngine(client, [dead, loopback], SIDECAR)
    assert await remote.probe() == 1
    assert remote.ready
    results = await remote.generate([request() for _ in range(4)])
    assert [r.text for r in results] == ["served-tiny: [0, 0, 9, 9]"] * 4
    assert [ok for _, ok in remote.replicas] == [False, True]
    _Replica.delay_s = 1.0  # longer than the client's timeout
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        await remote.generate([request()])
    assert time.monotonic() - start < 0.9
    await remote.shutdown()
