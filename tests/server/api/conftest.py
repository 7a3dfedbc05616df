"""Fixtures of the API input tests: real loopback HTTP servers, image files, hosts entries."""

import contextlib
import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from locvlm.api.fetch import FetchPolicy, IPAddress, is_public_address

EncodeImage = Callable[..., bytes]


@pytest.fixture
def anyio_backend() -> str:
    """The server runs on asyncio."""
    return "asyncio"


def encode(
    fmt: str, size: tuple[int, int] = (8, 6), color: object = (200, 30, 30), mode: str = "RGB"
) -> bytes:
    """A solid image of `size` saved as `fmt` by Pillow."""
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format=fmt)  # type: ignore[arg-type]
    return buf.getvalue()


@pytest.fixture(name="encode")
def encode_fixture() -> EncodeImage:
    """`encode(fmt, size=(8, 6), color=..., mode="RGB") -> bytes`."""
    return encode


@dataclass
class Server:
    """A loopback HTTP server and what it has been asked."""

    base: str
    hits: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def paths(self) -> list[str]:
        return [path for path, _headers in self.hits]


def _handler(server: Server, png: bytes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Routes: /image.png, /redirect?to=, /chain/N, /status/N, /huge?bytes=,
        /huge-declared, /slow?s=, /drip, /gzip; anything else: 200 "hello"."""

        def do_GET(self) -> None:
            server.hits.append((self.path, dict(self.headers.items())))
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            route = parts.path.split("/")[1]
            action = getattr(self, f"_{route.replace('-', '_').replace('.', '_')}", self._hello)
            # the client may give up mid-answer, as the size and time caps make it
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                action(parts.path, query)

        def _send(self, status: int, body: bytes, **headers: str) -> None:
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def _hello(self, path: str, query: dict[str, str]) -> None:
            self._send(200, b"hello", Content_Type="text/plain")

        def _image_png(self, path: str, query: dict[str, str]) -> None:
            self._send(200, png, Content_Type="text/plain")  # a lying type: content decides

        def _redirect(self, path: str, query: dict[str, str]) -> None:
            self._send(int(query.get("code", "302")), b"", Location=query.get("to", ""))

        def _chain(self, path: str, query: dict[str, str]) -> None:
            left = int(path.split("/")[2])
            if left == 0:
                self._image_png(path, query)
            else:  # relative Location, resolved against the name the client used
                self._send(301, b"", Location=f"/chain/{left - 1}")

        def _status(self, path: str, query: dict[str, str]) -> None:
            self._send(int(path.split("/")[2]), b"no")

        def _huge(self, path: str, query: dict[str, str]) -> None:
            self.send_response(200)  # no Content-Length: the body ends when we close
            self.end_headers()
            chunk = b"\0" * 65536
            for _ in range(int(query.get("bytes", 50_000_000)) // len(chunk)):
                self.wfile.write(chunk)

        def _huge_declared(self, path: str, query: dict[str, str]) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(10**10))
            self.end_headers()
            self.wfile.write(b"\0" * 1000)

        def _slow(self, path: str, query: dict[str, str]) -> None:
            time.sleep(float(query.get("s", "3")))
            self._send(200, png)

        def _drip(self, path: str, query: dict[str, str]) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):  # every read is quick, the whole body is not
                self.wfile.write(b"\0")
                self.wfile.flush()
                time.sleep(0.05)

        def _gzip(self, path: str, query: dict[str, str]) -> None:
            self._send(200, b"\x1f\x8b" + b"\0" * 20, Content_Encoding="gzip")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _serve(host: str, png: bytes) -> Iterator[Server]:
    server = Server(base="")
    httpd = ThreadingHTTPServer((host, 0), _handler(server, png))
    httpd.daemon_threads = True
    httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
    server.base = f"http://{host}:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def png_bytes() -> bytes:
    """The image the servers serve: 8x6, solid red."""
    return encode("PNG")


@pytest.fixture(scope="session")
def image_server(png_bytes: bytes) -> Iterator[Server]:
    """The server tests may reach: 127.0.0.1, allowed by `loopback_policy` only."""
    yield from _serve("127.0.0.1", png_bytes)


@pytest.fixture(scope="session")
def private_server(png_bytes: bytes) -> Iterator[Server]:
    """A server on 127.0.0.2 standing in for an internal service: nothing may reach it."""
    yield from _serve("127.0.0.2", png_bytes)


def loopback_allowed(ip: IPAddress) -> bool:
    """The normal policy plus 127.0.0.1, where `image_server` listens."""
    return ip == IPv4Address("127.0.0.1") or is_public_address(ip)


@pytest.fixture
def loopback_policy() -> FetchPolicy:
    """Fetch policy for tests against `image_server`: only 127.0.0.1 is let through."""
    return FetchPolicy(timeout_s=5.0, is_allowed_address=loopback_allowed)


HOSTS_FILE = Path("/etc/hosts")
HOSTS_ENTRIES = {  # names under .invalid (RFC 6761) cannot clash with anything real
    "private.ssrf.invalid": ["10.0.0.1"],
    "metadata.ssrf.invalid": ["169.254.169.254"],
    "ula.ssrf.invalid": ["fd00::1"],
    "mixed.ssrf.invalid": ["93.184.216.34", "192.168.0.1"],
}


@pytest.fixture(scope="session")
def hosts_entries() -> Iterator[dict[str, list[str]]]:
    """Names that the real resolver (getaddrinfo, hosts file) maps to private addresses.

    Appended to /etc/hosts and removed by truncating back to the original length (one
    syscall each, so other processes reading the file never see it half written).
    Skipped where the file is not writable (not root).
    """
    if not os.access(HOSTS_FILE, os.W_OK):
        pytest.skip("needs a writable /etc/hosts (root)")
    original = HOSTS_FILE.read_bytes()
    lines = [f"{ip} {name}" for name, ips in HOSTS_ENTRIES.items() for ip in ips]
    added = ("" if original.endswith(b"\n") else "\n") + "\n".join(lines) + "\n"
    with HOSTS_FILE.open("a") as hosts:
        hosts.write(added)
    try:
        yield HOSTS_ENTRIES
    finally:
        if HOSTS_FILE.read_bytes().startswith(original):
            os.truncate(HOSTS_FILE, len(original))
