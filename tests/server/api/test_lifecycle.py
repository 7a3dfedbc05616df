"""Loading, draining on SIGTERM with nothing lost, the drain timeout, a dead engine."""

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from typer.testing import CliRunner

from locvlm.api.app import create_app
from locvlm.api.lifecycle import Lifecycle
from locvlm.api.settings import Settings
from locvlm.cli import app as cli_app
from tests.server.api.live import (
    AUTH,
    AsyncHeldBody,
    LiveServer,
    b64,
    encoded,
    error_of,
    launch,
    launch_for,
    scene,
)

PNG = encoded(scene((128, 96))[0])
GROUND = {"image": b64(PNG), "phrases": ["red circle", "blue square"]}
JSON = {"content-type": "application/json"}


# --- in process: phases and the drain count ---------------------------------------------
@pytest.mark.anyio
async def test_while_loading_readyz_and_v1_answer_503() -> None:
    app = create_app(Settings(model="/nowhere"))  # no lifespan here: the engine never loads
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app", headers=AUTH) as c:
        assert (await c.get("/healthz")).status_code == 200
        ready = await c.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "loading"
        response = await c.post("/v1/ground", json=GROUND)
        assert error_of(response, 503)["type"] == "unavailable"
        assert int(response.headers["retry-after"]) >= 1


@pytest.mark.anyio
async def test_drain_waits_for_requests_in_flight() -> None:
    lifecycle = Lifecycle(Settings())
    lifecycle.enter()
    lifecycle.enter()

    async def finish() -> None:
        for _ in range(2):
            await anyio.sleep(0.05)
            lifecycle.leave()

    async with anyio.create_task_group() as tg:
        tg.start_soon(finish)
        assert await lifecycle.drain(timeout_s=30) == 0
    assert lifecycle.phase == "draining"


@pytest.mark.anyio
async def test_drain_gives_up_after_its_timeout() -> None:
    lifecycle = Lifecycle(Settings())
    lifecycle.enter()
    started = time.monotonic()
    assert not lifecycle.aborted.is_set()
    assert await lifecycle.drain(timeout_s=0.2, answer_s=0.2) == 1
    assert lifecycle.aborted.is_set()  # what is left is told to answer 503
    assert time.monotonic() - started < 5


# --- live: SIGTERM, a dead engine ----------------------------------------------------------
@pytest.fixture(scope="module")
def servers(
    request: pytest.FixtureRequest,
    tiny_shapes_export: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, LiveServer]]:
    """This module's servers, started together (their imports overlap): to drain (with
    the engine in-process and in a child process), to drain past a 1 s timeout, and one
    whose checkpoint's weights are garbage; two whose engine child gets killed, with
    restarts left and with none."""
    broken = tmp_path_factory.mktemp("broken") / "model"
    shutil.copytree(tiny_shapes_export, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    started = {
        "drain": launch_for(
            request, "drain", LOCVLM_DRAIN_TIMEOUT_S="120", LOCVLM_ENGINE_PROCESS="false"
        ),
        "drain_process": launch_for(  # the default: the engine in a child process
            request, "drain_process", LOCVLM_DRAIN_TIMEOUT_S="120"
        ),
        "drain_timeout": launch_for(  # its batches wait long: a request is still running
            request, "drain_timeout", LOCVLM_DRAIN_TIMEOUT_S="1", LOCVLM_BATCH_WAIT_MS="4000"
        ),
        "dead": launch(broken, broken.parent),
        "restart": launch_for(request, "restart"),  # the default: 3 restarts
        "no_restart": launch_for(request, "no_restart", LOCVLM_ENGINE_RESTARTS="0"),
    }
    yield started
    for server in started.values():
        server.stop()


async def _readyz(client: httpx.AsyncClient) -> dict[str, Any]:
    return dict((await client.get("/readyz")).json())


async def _until(client: httpx.AsyncClient, condition: Any) -> None:
    with anyio.fail_after(120):
        while not condition(await _readyz(client)):
            await anyio.sleep(0.02)


def _children(pid: int) -> list[int]:
    """The processes `pid` started that are still running (Linux /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _running(pid: int) -> str:
    """`pid`'s command line if it is running, else "" (gone, or a zombie nobody reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return "" if state == "Z" else Path(f"/proc/{pid}/cmdline").read_text()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return ""


@pytest.mark.parametrize("name", ["drain", "drain_process"])
def test_sigterm_drains_every_request_in_flight(name: str, servers: dict[str, LiveServer]) -> None:
    """Two slow uploads and three engine requests in flight at SIGTERM: all get 200."""
    server = servers[name]
    server.wait_ready()
    children = _children(server.proc.pid)
    spawned = [Path(f"/proc/{c}/cmdline").read_bytes() for c in children]
    engines = [c for c in spawned if b"spawn_main" in c]  # (the other: multiprocessing's
    assert len(engines) == (1 if name == "drain_process" else 0), spawned  # resource tracker)
    held = [AsyncHeldBody(json.dumps(GROUND).encode()) for _ in range(2)]

    async def scenario() -> tuple[list[httpx.Response], dict[str, Any], float]:
        answers: list[httpx.Response] = []
        seen: dict[str, Any] = {}
        async with server.async_client() as client, server.async_client() as probe:

            async def send(**kwargs: Any) -> None:
                answers.append(await client.post("/v1/ground", **kwargs))

            async with anyio.create_task_group() as tg:
                for body in held:
                    tg.start_soon(partial(send, content=body, headers=JSON))
                for _ in range(3):
                    tg.start_soon(partial(send, json=GROUND))
                await _until(probe, lambda r: r["in_flight"] >= 2)
                server.proc.send_signal(signal.SIGTERM)
                sent_at = time.monotonic()
                await _until(probe, lambda r: r["status"] == "draining")
                seen["refused"] = await probe.post("/v1/ground", json=GROUND)
                async with server.async_client() as fresh:  # a new connection too
                    seen["refused_new"] = await fresh.post("/v1/ground", json=GROUND)
                    seen["healthz"] = (await fresh.get("/healthz")).status_code
                for body in held:
                    body.release()
        return answers, seen, sent_at

    answers, seen, sent_at = anyio.run(scenario)
    assert [r.status_code for r in answers] == [200] * 5, [r.text for r in answers]
    for name in ("refused", "refused_new"):
        assert error_of(seen[name], 503)["type"] == "unavailable"
    assert seen["healthz"] == 200
    assert server.proc.wait(timeout=60) == 0
    assert time.monotonic() - sent_at < 60
    assert "SIGTERM: draining" in server.log()
    assert "drain timeout" not in server.log()
    deadline = time.monotonic() + 10
    while any(_running(child) for child in children):  # they end with the server
        assert time.monotonic() < deadline, [_running(child) for child in children]
        time.sleep(0.1)


def test_the_drain_ends_at_its_timeout_with_503s(servers: dict[str, LiveServer]) -> None:
    server = servers["drain_timeout"]
    server.wait_ready()

    async def scenario() -> tuple[httpx.Response, float]:
        async with server.async_client() as client, anyio.create_task_group() as tg:
            answered: list[httpx.Response] = []

            async def send() -> None:
                answered.append(await client.post("/v1/ground", json=GROUND))

            tg.start_soon(send)
            await _until(client, lambda r: r["in_flight"] == 1)
            server.proc.send_signal(signal.SIGTERM)
            sent_at = time.monotonic()
            await anyio.to_thread.run_sync(server.proc.wait, 60)
            exited_after = time.monotonic() - sent_at
        return answered[0], exited_after

    answer, exited_after = anyio.run(scenario)
    assert server.proc.returncode == 0
    assert exited_after < 1 + 15  # the drain, its answers, uvicorn's last second, the engine
    error = error_of(answer, 503)  # the API's error shape, not uvicorn's plain-text 500
    assert (error["type"], answer.headers["retry-after"]) == ("unavailable", "5")
    assert "drain timed out" in error["message"]
    assert "drain timeout: answered 1 request(s) still in flight with 503" in server.log()


def test_a_dead_engine_stops_the_server(servers: dict[str, LiveServer]) -> None:
    server = servers["dead"]
    assert server.proc.wait(timeout=180) == 1
    assert "the engine failed to start" in server.log()
    assert "locvlm serve: the engine failed" in server.log()


def _engine_child(server: LiveServer) -> int:
    """The pid of `server`'s engine process (not multiprocessing's resource tracker)."""
    [pid] = [c for c in _children(server.proc.pid) if b"spawn_main" in _cmdline(c)]
    return pid


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def test_a_killed_engine_is_restarted_while_readyz_says_loading(
    servers: dict[str, LiveServer],
) -> None:
    server = servers["restart"]
    server.wait_ready()
    child = _engine_child(server)

    async def scenario() -> tuple[list[dict[str, Any]], httpx.Response, str]:
        async with server.async_client() as client:
            assert (await client.post("/v1/ground", json=GROUND)).status_code == 200
            os.kill(child, signal.SIGKILL)
            statuses = [await _readyz(client)]
            await _until(client, lambda r: r["status"] != "ready")
            statuses.append(await _readyz(client))
            await _until(client, lambda r: r["status"] == "ready")
            statuses.append(await _readyz(client))
            answer = await client.post("/v1/ground", json=GROUND)
            metrics = (await client.get("/metrics")).text
        return statuses, answer, metrics

    statuses, answer, metrics = anyio.run(scenario)
    assert statuses[1]["status"] == "loading"  # 503 while the engine loads again
    assert answer.status_code == 200, answer.text
    assert {b["phrase"] for b in answer.json()["results"]} == set(GROUND["phrases"])
    assert server.proc.poll() is None  # still serving
    assert _engine_child(server) != child  # a new engine process
    assert "restarting the engine (1 of 3)" in server.log()
    assert "locvlm_engine_restarts 1.0" in metrics


def test_an_engine_killed_with_no_restart_left_stops_the_server(
    servers: dict[str, LiveServer],
) -> None:
    server = servers["no_restart"]
    server.wait_ready()
    os.kill(_engine_child(server), signal.SIGKILL)
    assert server.proc.wait(timeout=60) == 1
    assert "the engine died, and no restart is left" in server.log()
    assert "locvlm serve: the engine failed" in server.log()


# --- `locvlm serve` with a bad model or engine ----------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "/no/such/dir"], "no model checkpoint"),  # a wrong folder
        (["--model", "x", "--engine", "tpu"], "expected one of auto, vllm, transformers"),  # engine
    ],
)
def test_serve_fails_clearly_without_a_model(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOCVLM_MODEL", raising=False)
    done = CliRunner().invoke(cli_app, ["serve", *args])
    assert done.exit_code == 2
    assert message in " ".join(done.output.split())


def test_the_default_model_is_shipped() -> None:
    from locvlm.model.sidecar import Sidecar, resolve_model_dir

    path = resolve_model_dir("default")  # what `locvlm serve` with no --model serves
    assert Sidecar.read(path).preset == "tiny-shapes"
    assert (path / "model.safetensors").stat().st_size < 30 * 2**20
