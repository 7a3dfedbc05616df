"""The transformers engine in a process of its own (`LOCVLM_ENGINE_PROCESS=true`).

    async with ProcessEngine.open(Settings(model="runs/tiny/model")) as engine:
        [result] = await engine.generate([GenerationRequest(image, "Where is the circle?")])

In one process, the server's Python (HTTP, JSON, image decoding) and the engine's
(`model.generate` steps, grammar masks) take turns on one GIL, so each slows the other
(bench/api.py). Here a spawned child runs `TransformersEngine` on its own event loop and
this proxy talks to it over a pipe: each `generate` call is one message, its answer
another, and the child's micro-batcher groups the calls as they come (a burst of
requests reaches it one by one, as fast as the server decodes them). Cancelling the
caller sends a cancel, which frees the child's work as the engine's own cancellation
does. Images are squashed to the model's input here, so a message carries 64x64 pixels,
not the caller's upload. If the child dies, every pending call fails with
`EngineDeadError` and readiness reports it. Both sides send only from their event loop
(their pipe threads only read), so sends need no lock.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import signal
import threading
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
        conn: Connection,
        sidecar: Sidecar,
        stats: EngineStats,
    ) -> None:
        self.sidecar = sidecar
        self._process, self._conn = process, conn
        self._loop = asyncio.get_running_loop()
        self._calls: dict[int, tuple[asyncio.Future[list[GenerationResult]], int]] = {}
        self._ids = itertools.count()
        self._child_stats = stats
        self._dead: str | None = None
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="locvlm-engine-pipe", daemon=True)
        self._reader.start()

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
        try:
            kind, payload = await asyncio.to_thread(parent.recv)
        except EOFError:
            await asyncio.to_thread(process.join)
            code = process.exitcode
            raise EngineDeadError(f"engine process exited {code} while loading") from None
        if kind != "ready":
            await asyncio.to_thread(process.join)
            raise _ERRORS.get(payload[0], RuntimeError)(payload[1])
        _log.info("transformers engine in process %d: ready", process.pid)
        sidecar, stats = payload
        return cls(process, parent, sidecar, stats)

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
            self._conn.send(message)
        except (OSError, ValueError) as exc:  # the pipe is closed: the child is gone
            self._die(f"engine process unreachable: {exc}")
            if not quiet:
                raise EngineDeadError(self._dead or "engine process unreachable") from exc

    def _read(self) -> None:
        """The pipe reader thread: hand each answer to the event loop."""
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                if not self._closed:
                    code = self._process.exitcode
                    self._loop.call_soon_threadsafe(
                        self._die, f"engine process died (exit code {code})"
                    )
                return
            self._loop.call_soon_threadsafe(self._answer, *message)

    def _answer(self, kind: str, call: int, payload: Any) -> None:
        if kind == "stats":
            self._child_stats = payload
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
        self._conn.close()
        _log.info("transformers engine process: shut down")


# --- the wire: requests cross as plain values ----------------------------------------
def _to_wire(request: GenerationRequest, side: int) -> dict[str, Any]:
    """The request as plain values, its image squashed to the model's `side` first."""
    image = square(request.image, side)
    return {"pixels": (image.mode, image.size, image.tobytes()), "question": request.question,
            "max_new_tokens": request.max_new_tokens, "constraint": request.constraint,
            "request_id": request.request_id}  # fmt: skip


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
    asyncio.run(_child(settings, conn))


async def _child(settings: Settings, conn: Connection) -> None:
    from locvlm.engines.transformers_engine import TransformersEngine  # torch: child only

    loop = asyncio.get_running_loop()
    try:
        engine = await TransformersEngine.create(settings)
    except Exception as exc:
        conn.send(("failed", (type(exc).__name__, str(exc))))
        return
    conn.send(("ready", (engine.sidecar, engine.stats())))
    tasks: dict[int, asyncio.Task[None]] = {}
    stopped = asyncio.Event()

    async def run(call: int, requests: list[GenerationRequest]) -> None:
        try:
            answer: tuple[str, int, Any] = ("done", call, await engine.generate(requests))
        except asyncio.CancelledError:
            return
        except Exception as exc:
            answer = ("error", call, (type(exc).__name__, str(exc)))
        finally:
            tasks.pop(call, None)
        conn.send(("stats", call, engine.stats()))  # first: an answered caller sees them
        conn.send(answer)

    def handle(kind: str, call: int, payload: Any) -> None:
        if kind == "generate":
            tasks[call] = loop.create_task(run(call, [_from_wire(w) for w in payload]))
        elif kind == "cancel" and call in tasks:
            tasks[call].cancel()
        elif kind == "stop":
            stopped.set()

    def read() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the parent is gone: stop
                loop.call_soon_threadsafe(stopped.set)
                return
            loop.call_soon_threadsafe(handle, *message)
            if message[0] == "stop":
                return

    threading.Thread(target=read, name="locvlm-engine-pipe", daemon=True).start()
    await stopped.wait()
    for task in tasks.values():
        task.cancel()
    await engine.shutdown()
    conn.close()
