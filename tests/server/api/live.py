"""Real `locvlm serve` processes on loopback for the API tests, and what to send them.

The main server is shared by the whole session (`shared_server`, kept in the pytest
config's stash and stopped at its cleanup); tests that change settings or kill the
server start their own with `launch`.
"""

from __future__ import annotations

import base64
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from PIL import Image

from locvlm.data.shapes import SceneObject, ShapesConfig, render_scene
from locvlm_client import Box

API_KEY = "test-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
MAIN_ENV = {  # the shared server: small limits so that tests reach them cheaply
    "LOCVLM_MAX_IN_FLIGHT": "8",
    "LOCVLM_MAX_REQUEST_BYTES": str(1024 * 1024),
    "LOCVLM_MAX_PHRASES": "6",
    "LOCVLM_MAX_REGIONS": "4",
    "LOCVLM_MAX_PHRASE_CHARS": "200",
    "LOCVLM_CORS_ORIGINS": "https://app.example",
    "LOCVLM_MAX_VIDEO_FRAMES": "16",
}


@dataclass
class LiveServer:
    """A `locvlm serve` subprocess and its log."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def client(self, **kwargs: Any) -> httpx.Client:
        """A client with the API key, generous timeouts (a loaded CI box is slow)."""
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=120, **kwargs)

    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """The async twin of `client`."""
        limits = httpx.Limits(max_connections=64)
        return httpx.AsyncClient(
            base_url=self.url, headers=AUTH, timeout=120, limits=limits, **kwargs
        )

    def readiness(self) -> tuple[int, dict[str, Any]]:
        """`/readyz`: status code and body."""
        response = httpx.get(f"{self.url}/readyz", timeout=30)
        return response.status_code, response.json()

    def log(self) -> str:
        """What the server has logged so far."""
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = 10) -> None:
        """Wait for `text` in the log (lines are written just after each answer)."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert time.monotonic() < deadline, f"{text!r} not logged:\n{self.log()[-2000:]}"
            time.sleep(0.05)

    def wait_ready(self, timeout: float = 240) -> None:
        """Wait for `/readyz` to say 200; fail with the log if the process dies first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                if self.readiness()[0] == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"server not ready after {timeout}s:\n{self.log()[-4000:]}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it will not go."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(
    model: Path | None, log_dir: Path, engine: str = "transformers", **env: str
) -> LiveServer:
    """Start `locvlm serve` for `model` (None: the embedded default, no `--model`) on
    `engine` with `LOCVLM_*` overrides; does not wait."""
    port = free_port()
    log_path = log_dir / f"server-{port}.log"
    environ = {**os.environ, "LOCVLM_API_KEYS": f"{API_KEY},another-key",
               "LOCVLM_MAX_NEW_TOKENS": "16", **env}  # fmt: skip
    command = [sys.executable, "-m", "locvlm", "serve", "--engine", engine,
               "--port", str(port), *(["--model", str(model)] if model else [])]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, env=environ, stdout=log, stderr=subprocess.STDOUT)
    return LiveServer(f"http://127.0.0.1:{port}", proc, log_path)


def launch_for(request: pytest.FixtureRequest, name: str, **env: str) -> LiveServer:
    """`launch` the tiny-shapes export, logging to a fresh temporary folder `name`."""
    model = request.getfixturevalue("tiny_shapes_export")
    return launch(model, request.getfixturevalue("tmp_path_factory").mktemp(name), **env)


@contextmanager
def serving(request: pytest.FixtureRequest, name: str, **env: str) -> Iterator[LiveServer]:
    """A server of its own (`launch_for`), ready; stopped on leaving, however one leaves."""
    server = launch_for(request, name, **env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


_MAIN = pytest.StashKey[LiveServer]()


def shared_server(request: pytest.FixtureRequest) -> LiveServer:
    """The session's main server (started on first use, stopped when the session ends)."""
    config = request.config
    if _MAIN not in config.stash:
        server = launch_for(request, "api_server", **MAIN_ENV)
        config.add_cleanup(server.stop)
        config.stash[_MAIN] = server
        server.wait_ready()
    return config.stash[_MAIN]


# --- what to send -------------------------------------------------------------------
def scene(
    size: tuple[int, int] = (160, 96), seed: int = 7
) -> tuple[Image.Image, list[SceneObject]]:
    """A shapes scene of `size` (non-square by default) and its objects."""
    return render_scene(seed, ShapesConfig(size=size))


def encoded(image: Image.Image, fmt: str = "PNG", **save: Any) -> bytes:
    """`image` saved as `fmt`."""
    buf = io.BytesIO()
    image.save(buf, format=fmt, **save)
    return buf.getvalue()


def exif_rotated(image: Image.Image) -> bytes:
    """A JPEG storing `image` as is, with EXIF orientation 6: viewers show it rotated 90
    degrees clockwise, so its upright size is `image`'s transposed."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(image, "JPEG", exif=exif, quality=95)


def b64(data: bytes) -> dict[str, str]:
    """The JSON `image` field for file bytes."""
    return {"data": base64.b64encode(data).decode()}


def assert_inside(box: dict[str, float], size: tuple[float, float]) -> None:
    """`box` is a well-formed box within an image of `size` (pixels, or 1x1 normalized)."""
    parsed = Box.model_validate(box)
    assert 0 <= parsed.x1 <= parsed.x2 <= size[0], box
    assert 0 <= parsed.y1 <= parsed.y2 <= size[1], box


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The `error` object of an error answer, after checking status and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"type", "message", "param"}, body
    assert "Traceback" not in response.text
    return dict(body["error"])


class HeldBody:
    """A request body sent in two parts; the second waits for `release()`.

    While held, the server is reading the body: the request occupies its slot.
    """

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent_head = threading.Event()
        self._go = threading.Event()

    def release(self) -> None:
        """Let the rest of the body go."""
        self._go.set()

    def __iter__(self) -> Iterator[bytes]:
        yield self.body[:8]
        self.sent_head.set()
        self._go.wait(timeout=120)
        yield self.body[8:]


class AsyncHeldBody:
    """`HeldBody` for httpx's async client."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self._go = anyio.Event()

    def release(self) -> None:
        """Let the rest of the body go."""
        self._go.set()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.body[:8]
        with anyio.fail_after(120):
            await self._go.wait()
        yield self.body[8:]


def send_all(
    server: LiveServer,
    calls: dict[str, tuple[str, dict[str, Any]]],
    workers: int | None = None,
) -> dict[str, httpx.Response]:
    """POST every `(path, httpx kwargs)`, all at once or `workers` at a time, so that the
    engine batches them; the answers by name."""
    with server.client() as client, ThreadPoolExecutor(workers or len(calls)) as pool:
        futures = {name: pool.submit(client.post, path, **kw) for name, (path, kw) in calls.items()}
        return {name: future.result() for name, future in futures.items()}
