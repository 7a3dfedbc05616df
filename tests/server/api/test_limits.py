"""Concurrency bound (429), body size (413), timeout (504) and disconnects, live.

The shared server allows 8 requests in flight and 1 MiB bodies; `slow_server` has a
1 s request timeout and an engine that waits 2.5 s to fill each batch, so anything
that reaches the engine times out there.
"""

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import httpx
import pytest

from tests.server.api.live import (
    HeldBody,
    LiveServer,
    b64,
    encoded,
    error_of,
    scene,
    serving,
    shared_server,
)

PNG = encoded(scene((128, 96))[0])
BAD_IMAGE = json.dumps({"image": {"data": "%%%"}, "phrases": ["a"]}).encode()  # admitted: 400
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> LiveServer:
    return shared_server(request)


# The tests that count engine rows ask one question per phrase (not one listing of every
# object for all of an image's phrases, as the recipe's checkpoints are served by default).
@pytest.fixture(scope="module")
def rows_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    with serving(request, "rows", LOCVLM_LISTING="false") as server:
        yield server


@pytest.fixture(scope="module")
def slow_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    with serving(request, "slow", LOCVLM_REQUEST_TIMEOUT_S="1", LOCVLM_BATCH_WAIT_MS="2500",
                 LOCVLM_LISTING="false") as server:  # fmt: skip
        yield server


def _wait(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# --- 413 -------------------------------------------------------------------------------
def test_declared_length_over_the_limit_is_413(server: LiveServer) -> None:
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    with server.client() as client:
        response = client.post("/v1/ground", content=body, headers=JSON)
    assert error_of(response, 413)["type"] == "payload_too_large"


def test_streamed_body_over_the_limit_is_413(server: LiveServer) -> None:
    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length to go by
        yield b'{"pad": "'
        for _ in range(80):
            yield b"x" * 16384
        yield b'"}'

    with server.client() as client:
        response = client.post("/v1/ground", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert error_of(response, 413)["type"] == "payload_too_large"


# --- 429 -------------------------------------------------------------------------------
def test_429_beyond_max_in_flight_and_no_queue(server: LiveServer) -> None:
    """8 slow clients hold every slot; 3 more are refused at once; the 8 then finish."""
    held = [HeldBody(BAD_IMAGE) for _ in range(8)]
    with server.client() as client, ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client.post, "/v1/ground", content=h, headers=JSON) for h in held]
        _wait(lambda: server.readiness()[1]["in_flight"] == 8, "8 requests in flight")
        started = time.monotonic()
        refused = [client.post("/v1/ground", content=BAD_IMAGE, headers=JSON) for _ in range(3)]
        assert time.monotonic() - started < 10  # refused at once, not queued
        for h in held:
            h.release()
        admitted = [f.result() for f in futures]
    for response in refused:
        assert error_of(response, 429)["type"] == "rate_limited"
        assert int(response.headers["retry-after"]) >= 1
    for response in admitted:
        assert error_of(response, 400)["param"] == "image.data"
    assert server.readiness()[1]["in_flight"] == 0


def test_sequential_keep_alive_clients_within_the_bound_are_never_refused(
    server: LiveServer,
) -> None:
    """8 clients (the bound), each sending its requests one after another on one
    connection: the slot of one answer is free before its client sends the next."""

    def client_loop(_: int) -> list[int]:
        with server.client() as client:
            return [
                client.post("/v1/ground", content=BAD_IMAGE, headers=JSON).status_code
                for _ in range(25)
            ]

    with ThreadPoolExecutor(8) as pool:
        statuses = [code for codes in pool.map(client_loop, range(8)) for code in codes]
    assert statuses.count(429) == 0, f"{statuses.count(429)} of {len(statuses)} refused"
    assert set(statuses) == {400}


def test_clients_without_a_key_take_no_slot(server: LiveServer) -> None:
    """8 slow bodies without a key are refused at once; a client with a key is served."""
    held = [HeldBody(BAD_IMAGE) for _ in range(8)]
    with httpx.Client(base_url=server.url, timeout=60) as anonymous, ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(anonymous.post, "/v1/ground", content=h, headers=JSON) for h in held]
        _wait(lambda: all(h.sent_head.is_set() for h in held), "8 bodies begun")
        time.sleep(0.5)  # time to be admitted, were they
        assert server.readiness()[1]["in_flight"] == 0  # none holds a slot
        for h in held:
            h.release()
        refused = [f.result() for f in futures]
    for response in refused:
        assert error_of(response, 401)["type"] == "unauthorized"
    with server.client() as client:
        assert error_of(client.post("/v1/ground", content=BAD_IMAGE, headers=JSON), 400)


def test_a_burst_of_real_requests_is_served_or_refused(server: LiveServer) -> None:
    body = {"image": b64(PNG), "phrases": ["red circle"]}

    async def burst() -> list[httpx.Response]:
        async with server.async_client() as client:
            results: list[httpx.Response] = []

            async def one() -> None:
                results.append(await client.post("/v1/ground", json=body))

            async with anyio.create_task_group() as tg:
                for _ in range(24):
                    tg.start_soon(one)
            return results

    responses = anyio.run(burst)
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {200, 429}, codes
    assert codes.count(200) >= 8  # the bound's worth were served
    assert 429 in codes  # and the rest refused, not queued
    assert all(int(r.headers["retry-after"]) >= 1 for r in responses if r.status_code == 429)


# --- disconnects -------------------------------------------------------------------------
async def _stats(client: httpx.AsyncClient) -> dict[str, float]:
    engine = (await client.get("/readyz")).json()["engine"]
    details = engine["details"]
    return {"queued": engine["queued"], "running": engine["running"],
            "finished": engine["finished"],
            "cancelled": details["skipped_cancelled"] + details["stopped_cancelled"]}  # fmt: skip


async def _until(client: httpx.AsyncClient, condition: Any, what: str) -> None:
    with anyio.fail_after(60, shield=False):
        while not condition(await _stats(client)):
            await anyio.sleep(0.01)


def test_a_client_that_disconnects_cancels_its_engine_work(rows_server: LiveServer) -> None:
    """A keeps the engine busy; B's six rows wait behind it; B's client goes away."""
    phrases = ["red circle", "blue square", "green triangle", "yellow diamond",
               "purple circle", "orange square"]  # fmt: skip
    body = {"image": b64(PNG), "phrases": phrases}

    async def scenario() -> tuple[dict[str, float], dict[str, float], httpx.Response]:
        async with rows_server.async_client() as client, anyio.create_task_group() as tg:
            before = await _stats(client)
            answered: list[httpx.Response] = []
            b_scope = anyio.CancelScope()

            async def send_a() -> None:
                answered.append(await client.post("/v1/ground", json=body))

            async def send_b() -> None:
                with b_scope:
                    await client.post("/v1/ground", json=body)
                    pytest.fail("B was answered")

            tg.start_soon(send_a)
            # A's rows are one call, so one batch; rows leave `running` as they are answered.
            await _until(client, lambda s: s["running"] >= 1 or answered, "A generating")
            tg.start_soon(send_b)
            await _until(client, lambda s: s["queued"] >= 6 or (answered and s["running"] >= 1),
                         "B in the engine")  # fmt: skip
            b_scope.cancel()  # httpx drops B's connection
            with anyio.fail_after(120):
                while not answered:
                    await anyio.sleep(0.05)
            await _until(client, lambda s: s["cancelled"] - before["cancelled"] >= 6
                         and s["queued"] == s["running"] == 0, "B's rows dropped")  # fmt: skip
            return before, await _stats(client), answered[0]

    before, after, a_response = anyio.run(scenario)
    assert a_response.status_code == 200, a_response.text
    assert after["finished"] - before["finished"] == 6  # A's rows only
    assert after["cancelled"] - before["cancelled"] == 6  # B's: skipped, or stopped mid-way
    rows_server.wait_log("client disconnected, request cancelled")
    assert rows_server.readiness()[1]["in_flight"] == 0


# --- 504 -------------------------------------------------------------------------------
def test_a_slow_body_times_out_as_504(slow_server: LiveServer) -> None:
    held = HeldBody(BAD_IMAGE)
    with slow_server.client() as client, ThreadPoolExecutor(1) as pool:
        future = pool.submit(client.post, "/v1/ground", content=held, headers=JSON)
        held.sent_head.wait(30)
        time.sleep(1.5)  # past the 1 s timeout
        held.release()
        response = future.result()
    assert error_of(response, 504)["type"] == "timeout"
    _wait(lambda: slow_server.readiness()[1]["in_flight"] == 0, "the slot freed")


def test_a_request_that_times_out_frees_its_engine_work(slow_server: LiveServer) -> None:
    def stats() -> dict[str, Any]:
        return dict(slow_server.readiness()[1]["engine"])

    before = stats()
    with slow_server.client() as client:
        response = client.post(
            "/v1/ground", json={"image": b64(PNG), "phrases": ["red circle", "blue square"]}
        )
    assert error_of(response, 504)["type"] == "timeout"

    def cancelled(engine: dict[str, Any]) -> float:
        return float(
            engine["details"]["skipped_cancelled"] + engine["details"]["stopped_cancelled"]
        )

    # The batch still waits to fill when the request is cancelled; its rows never finish.
    _wait(lambda: cancelled(stats()) - cancelled(before) == 2, "both rows cancelled")
    assert stats()["finished"] == before["finished"]
    slow_server.wait_log("timed out after 1s")
