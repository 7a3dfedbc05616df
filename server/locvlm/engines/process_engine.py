"""The transformers engine in a process of its own (the default; `LOCVLM_ENGINE_PROCESS`).

    async with ProcessEngine.open(Settings(model="runs/tiny/model")) as engine:
        [result] = await engine.generate([GenerationRequest(image, "Where is the circle?")])

In one process, the server's Python (HTTP, JSON, image decoding) and the engine's
(`model.generate` steps, grammar masks) take turns on one GIL, so each slows the other
(bench/api.py). Here a spawned child runs `TransformersEngine` on its own event loop and
this proxy talks to it over a socket pair: each `generate` call is one message, its
answer (with the child's counters) another, and the child's micro-batcher groups the
calls as they come (a burst of requests reaches it one by one, as fast as the server
decodes them). The child also sends its counters whenever a batch starts or ends, so
rows running and work cancelled (no answer comes for it) show here at once.
Cancelling the caller sends a cancel, which frees the child's work as the engine's own
cancellation does. Images over 4x the model's input are squashed to it here, so a
message never carries the caller's upload. If the child dies, every pending call fails
with `EngineDeadError` and readiness reports it. Both sides read and write the socket on
their event loop (asyncio streams: no reader thread to hand each message over, writes
buffered so neither side blocks on a full pipe).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
from collections.abc import Sequence
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from PIL import Image

from locvlm.engines.base import (
    Engine,
    EngineDeadError,
    EngineStats,
    GenerationRequest,
    GenerationResult,
    square,
)

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from locvlm.api.settings import Settings
    from locvlm.model.sidecar import Sidecar

__all__ = ["ProcessEngine"]

_log = logging.getLogger("locvlm.engines")
_ERRORS: dict[str, type[Exception]] = {
    error.__name__: error for error in (ValueError, FileNotFoundError, EngineDeadError)
}
"""Exceptions that cross the pipe as themselves (callers handle them); others are
RuntimeErrors with the child's message."""


class ProcessEngine(Engine):
    """A proxy for `TransformersEngine` running in a child process."""

    name = "transformers-process"

    def __init__(
        self,
        process: BaseProcess,
        wire: _Wire,
        sidecar: Sidecar,
        stats: EngineStats,
    ) -> None:
        self.sidecar = sidecar
        self._process, self._wire = process, wire
        self._loop = asyncio.get_running_loop()
        self._calls: dict[int, tuple[asyncio.Future[list[GenerationResult]], int]] = {}
        self._ids = itertools.count()
        self._child_stats = stats
        self._dead: str | None = None
        self._closed = False
        self._reader = self._loop.create_task(self._read(), name="locvlm-engine-pipe")

    @classmethod
    async def create(cls, settings: Settings) -> ProcessEngine:
        """Spawn the child, wait until its engine has loaded (or failed to)."""
        ctx = multiprocessing.get_context("spawn")  # no fork: the parent has threads
        parent, child = ctx.Pipe()
        process = ctx.Process(
            target=_child_main,
            args=(settings, child, logging.getLogger("locvlm").getEffectiveLevel()),
            name="locvlm-engine",
            daemon=True,
        )
        process.start()
        child.close()
        wire = await _Wire.open(parent)
        try:
            kind, _, payload, stats = await wire.recv()
        except EOFError:
            wire.close()
            await asyncio.to_thread(process.join)
            code = process.exitcode
            raise EngineDeadError(f"engine process exited {code} while loading") from None
        if kind != "ready":
            wire.close()
            await asyncio.to_thread(process.join)
            raise _ERRORS.get(payload[0], RuntimeError)(payload[1])
        _log.info("transformers engine in process %d: ready", process.pid)
        return cls(process, wire, payload, stats)

    # --- state ---------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """The child is serving and not shut down."""
        return not self._closed and not self.errored

    @property
    def errored(self) -> bool:
        """The child died or stopped answering."""
        return self._dead is not None

    def stats(self) -> EngineStats:
        """The child's counters as of its last answer; requests in flight counted here."""
        rows = sum(n for _, n in self._calls.values())
        running = min(rows, self._child_stats.running)
        return replace(self._child_stats, queued=rows - running, running=running)

    # --- serving -------------------------------------------------------------------
    async def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Send the requests to the child and await its answers (see `Engine.generate`).

        Raises:
            EngineDeadError: the child has died or the engine was shut down.
            ValueError: a prompt and its answer would not fit the model's context.
        """
        if self._dead is not None or self._closed:
            raise EngineDeadError(self._dead or "the engine process is shut down")
        if not requests:
            return []
        wires = [_to_wire(r, self.sidecar.image_size) for r in requests]  # a bad image fails here
        call = next(self._ids)
        future: asyncio.Future[list[GenerationResult]] = self._loop.create_future()
        self._calls[call] = (future, len(wires))
        try:
            self._send(("generate", call, wires))
            return await future
        finally:
            if self._calls.pop(call, None) is not None:  # unanswered: the caller went away
                self._send(("cancel", call, None), quiet=True)

    def _send(self, message: tuple[str, int, Any], quiet: bool = False) -> None:
        try:
            self._wire.send(message)
        except (OSError, ValueError) as exc:  # the socket is closed: the child is gone
            self._die(f"engine process unreachable: {exc}")
            if not quiet:
                raise EngineDeadError(self._dead or "engine process unreachable") from exc

    async def _read(self) -> None:
        """Hand each of the child's answers to its caller, until the socket closes."""
        while True:
            try:
                message = await self._wire.recv()
            except (EOFError, OSError):
                if not self._closed:
                    await asyncio.to_thread(self._process.join, 5)  # to report how it ended
                    self._die(f"engine process died (exit code {self._process.exitcode})")
                return
            self._answer(*message)

    def _answer(self, kind: str, call: int, payload: Any, stats: EngineStats) -> None:
        self._child_stats = stats  # first: an answered caller sees them
        if kind == "stats":  # counters alone (a batch started or ended): no caller
            return
        future, _ = self._calls.pop(call, (None, 0))
        if future is None or future.done():
            return
        if kind == "done":
            future.set_result(payload)
        else:
            error_type, message = payload
            future.set_exception(_ERRORS.get(error_type, RuntimeError)(message))

    def _die(self, reason: str) -> None:
        if self._dead is not None:
            return
        self._dead = reason
        _log.error("transformers engine: %s", reason)
        self._fail_all(reason)

    def _fail_all(self, reason: str) -> None:
        """Fail every call waiting for an answer with `EngineDeadError`."""
        for future, _ in self._calls.values():
            if not future.done():
                future.set_exception(EngineDeadError(reason))
        self._calls.clear()

    async def shutdown(self) -> None:
        """Ask the child to stop (its running batch ends early), join it; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._fail_all("transformers engine is shut down")
        self._send(("stop", -1, None), quiet=True)
        await asyncio.to_thread(self._process.join, 30)
        if self._process.is_alive():
            self._process.kill()
            await asyncio.to_thread(self._process.join)
        await self._wire.aclose()
        await asyncio.gather(self._reader, return_exceptions=True)
        _log.info("transformers engine process: shut down")


class _Wire:
    """Messages over one end of the socket pair: a 4-byte length, then the pickle.

    Reads and writes run on the event loop (asyncio streams); writes are buffered, so a
    sender never blocks on the other side's full socket buffer. The messages sent in one
    turn of the event loop leave in one write, at its end: a burst of calls (requests
    that arrived together) reaches the child together, and its micro-batcher sees them
    at once however loaded the machine is.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._pending: list[bytes] = []  # framed messages of this turn, not yet written

    @classmethod
    async def open(cls, conn: Connection) -> _Wire:
        """Take over `conn` (a `multiprocessing` pipe end: a Unix socket)."""
        sock = socket.socket(fileno=os.dup(conn.fileno()))
        conn.close()
        sock.setblocking(False)
        return cls(*await asyncio.open_unix_connection(sock=sock))

    def send(self, message: tuple[Any, ...]) -> None:
        """Queue `message` for sending.

        Raises:
            OSError: the socket is closed.
        """
        if self._writer.is_closing():
            raise ConnectionResetError("the engine socket is closed")
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self._pending.append(struct.pack("!I", len(payload)) + payload)
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Write this turn's messages in one go (dropped if the socket closed meanwhile)."""
        pending, self._pending = self._pending, []
        if pending and not self._writer.is_closing():
            self._writer.write(b"".join(pending))

    async def recv(self) -> Any:
        """The next message.

        Raises:
            EOFError: the other side closed the socket.
        """
        try:
            (size,) = struct.unpack("!I", await self._reader.readexactly(4))
            return pickle.loads(await self._reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError):
            raise EOFError("the engine socket closed") from None

    def close(self) -> None:
        """Close the socket (buffered writes are still sent while the loop runs)."""
        self._flush()
        self._writer.close()

    async def aclose(self) -> None:
        """Close the socket once the buffered writes are sent."""
        self.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


# --- the wire: requests cross as plain values ----------------------------------------
def _to_wire(request: GenerationRequest, side: int) -> dict[str, Any]:
    """The request as plain values.

    An image of over 4x the pixels the model sees is squashed to the model's `side`
    first, to keep the message small. Smaller ones are squashed in the child's worker
    thread, as the in-process engine does, rather than on this process's event loop
    (identical pixels either way).
    """
    image = request.image
    if image.width * image.height > 4 * side * side:
        image = square(image, side)
    elif image.mode != "RGB":
        image = image.convert("RGB")
    return {"pixels": (image.mode, image.size, image.tobytes()), "question": request.question,
            "max_new_tokens": request.max_new_tokens, "constraint": request.constraint,
            "request_id": request.request_id, "coming": request.coming}  # fmt: skip


def _from_wire(wire: dict[str, Any]) -> GenerationRequest:
    mode, size, data = wire.pop("pixels")
    return GenerationRequest(image=Image.frombytes(mode, size, data), **wire)


# --- the child -----------------------------------------------------------------------
def _child_main(settings: Settings, conn: Connection, log_level: int) -> None:
    """Entry point of the spawned process: serve `conn` until told to stop.

    Signals are the parent's business (a terminal's Ctrl+C reaches the whole process
    group): this process stops when told to, or when the pipe closes.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=log_level, format="%(levelname)s:     %(name)s: %(message)s")
    try:  # uvicorn's loop where it is installed (uvicorn[standard]): cheaper socket wakeups
        import uvloop
    except ImportError:
        asyncio.run(_child(settings, conn))
    else:
        uvloop.run(_child(settings, conn))


async def _child(settings: Settings, conn: Connection) -> None:
    from locvlm.engines.transformers_engine import TransformersEngine  # torch: child only

    loop = asyncio.get_running_loop()
    wire = await _Wire.open(conn)
    try:
        engine = await TransformersEngine.create(settings)
    except Exception as exc:
        wire.send(("failed", -1, (type(exc).__name__, str(exc)), None))
        await wire.aclose()
        return
    wire.send(("ready", -1, engine.sidecar, engine.stats()))
    tasks: dict[int, asyncio.Task[None]] = {}

    async def report() -> None:
        """The counters whenever a batch starts or ends (answers carry them too)."""
        while True:
            await engine.changed.wait()
            engine.changed.clear()
            wire.send(("stats", -1, None, engine.stats()))

    reporter = loop.create_task(report())

    async def run(call: int, requests: list[GenerationRequest]) -> None:
        try:
            answer: tuple[str, Any] = ("done", await engine.generate(requests))
        except asyncio.CancelledError:
            return
        except Exception as exc:
            answer = ("error", (type(exc).__name__, str(exc)))
        finally:
            tasks.pop(call, None)
        wire.send((answer[0], call, answer[1], engine.stats()))

    while True:
        try:
            kind, call, payload = await wire.recv()
        except EOFError:  # the parent is gone: stop
            break
        if kind == "generate":
            tasks[call] = loop.create_task(run(call, [_from_wire(w) for w in payload]))
        elif kind == "cancel" and call in tasks:
            tasks[call].cancel()
        elif kind == "stop":
            break
    reporter.cancel()
    for task in tasks.values():
        task.cancel()
    await engine.shutdown()
    await wire.aclose()
