"""Load generation shared by the serving benchmarks: the workload, closed loops, lean HTTP.

The client shares the cores with the servers it measures, so it is kept as lean as wrk:
each request's bytes are built beforehand and sent over a keep-alive connection.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import re
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from locvlm.data.shapes import ShapesConfig, render_scene
from locvlm.model.sidecar import resolve_model_dir

Work = list[tuple[bytes, str]]  # (PNG, phrase) per request
SIZE = (128, 128)  # every workload image: the model's input size, so no arm resizes


def load_arguments(parser: argparse.ArgumentParser, levels: str = "1,8,32") -> None:
    """The options of every serving bench: the model; requests, rounds, tokens, levels."""
    parser.add_argument("--model", default="default", help="an exported checkpoint folder")
    parser.add_argument("--requests", type=int, default=192, help="per level, per arm")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--levels", type=_levels, default=levels,
                        help="concurrency levels, comma-separated")  # fmt: skip


def parse_load_arguments(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse; `args.model` becomes the checkpoint's folder.

    Refuses too few requests (the steady rate leaves out a level's first and last) and a
    model folder that is not there.
    """
    args = parser.parse_args()
    if args.requests <= 2 * max(args.levels):
        parser.error(f"--requests must exceed {2 * max(args.levels)} (twice the top level)")
    try:
        args.model = resolve_model_dir(args.model)
    except FileNotFoundError as exc:
        parser.error(f"{exc}; pass --model DIR (an exported checkpoint)")
    return args


def _levels(text: str) -> list[int]:
    try:
        levels = [int(c) for c in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated numbers: {text!r}") from None
    if min(levels) < 1:
        raise argparse.ArgumentTypeError("a concurrency level is at least 1")
    return levels


def workload(n: int, size: tuple[int, int] = SIZE) -> Work:
    """`n` shapes scenes (seeds (5, i), `size`) as PNG, each with a phrase to ground."""
    out = []
    for i in range(n):
        image, objects = render_scene(seed=(5, i), config=ShapesConfig(size=size))
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        out.append((buf.getvalue(), objects[0].category))
    return out


async def closed_loop(
    send: Callable[[int], Awaitable[str]], n: int, concurrency: int
) -> dict[str, Any]:
    """Send requests 0..n-1 from `concurrency` clients; rates, latencies, answers by index.

    `requests_per_s` is the steady rate: the completions after the first `concurrency`
    and up to the last `concurrency`, over the time between them. It leaves out the
    start, where all clients send at once into an idle engine (the API turns that burst
    into a trickle: one partly filled micro-batch, whose weight depends on the run's
    length rather than on the API), and the drain, where fewer than `concurrency`
    requests remain. `whole_run_requests_per_s` counts every request over the whole run.
    """
    if n <= 2 * concurrency:
        raise ValueError(f"{n} requests leave no steady window at concurrency {concurrency}")
    latencies: list[float] = []
    done_at: list[float] = []
    answers = [""] * n
    todo = iter(range(n))

    async def client() -> None:
        for i in todo:  # shared: each request is sent once
            start = time.perf_counter()
            answers[i] = await send(i)
            done_at.append(time.perf_counter())
            latencies.append(done_at[-1] - start)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    first, last = done_at[concurrency - 1], done_at[n - concurrency - 1]  # in finishing order
    return {
        "requests_per_s": round((n - 2 * concurrency) / (last - first), 2),
        "whole_run_requests_per_s": round(n / wall, 2),
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * statistics.quantiles(latencies, n=100)[98], 1),
        "answers": answers,
    }


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ground_request(png: bytes, phrase: str) -> bytes:
    """The whole HTTP request that asks `/v1/ground` for `phrase` in the PNG `png`."""
    image = {"data": base64.b64encode(png).decode()}
    return post("/v1/ground", json.dumps({"image": image, "phrases": [phrase]}).encode())


def post(path: str, body: bytes) -> bytes:
    """The whole HTTP/1.1 request that posts JSON `body` to `path` on loopback."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")  # fmt: skip
    return head.encode() + body


class Connection:
    """A keep-alive HTTP/1.1 connection sending prebuilt requests (a client as lean as wrk)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        """Connect to 127.0.0.1:`port`."""
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send `request`; the answer's status and body (the server sends Content-Length)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = _CONTENT_LENGTH.search(head)
        assert length is not None, head
        return int(head[9:12]), await self.reader.readexactly(int(length[1]))

    def close(self) -> None:
        """Close the socket."""
        self.writer.close()


_CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


async def run_level(
    port: int, requests: list[bytes], concurrency: int, path_name: str
) -> dict[str, Any]:
    """One closed-loop run of prebuilt `requests` at `concurrency`, a connection per client.

    Raises:
        RuntimeError: a request was not answered 200 (`path_name` names it).
    """
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(concurrency):
        idle.put_nowait(await Connection.open(port))

    async def send(i: int) -> str:
        connection = await idle.get()
        status, body = await connection.exchange(requests[i])
        idle.put_nowait(connection)
        if status != 200:
            raise RuntimeError(f"{path_name} answered {status}: {body[:200]!r}")
        return body.decode()  # parsed after the clock stops

    try:
        return await closed_loop(send, len(requests), concurrency)
    finally:
        while not idle.empty():
            idle.get_nowait().close()
