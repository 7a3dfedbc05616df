"""The transformers engine in a process of its own (the default; `EngineConfig.child_process`).

    async with ProcessEngine.open(EngineConfig(model="runs/tiny/model")) as engine:
        [result] = await engine.generate([GenerationRequest(image, "Where is the circle?")])

In one process, the server's Python (HTTP, JSON, image decoding) and the engine's
(`model.generate` steps, grammar masks) take turns on one GIL, so each slows the other
(bench/api.py). Here a spawned child runs `TransformersEngine` on its own event loop and
this proxy talks to it over a socket pair: each `generate` call is one message, its
answer (with the child's counters) another (a `stream` call's partial answers come as
`piece` messages before it), and the child's micro-batcher groups the
calls as they come (a burst of requests reaches it one by one, as fast as the server
decodes them). The child also sends its counters whenever a batch starts or ends, so
rows running and work cancelled (no answer comes for it) show here at once.
Cancelling the caller sends a cancel, which frees the child's work as the engine's own
cancellation does. The child gets the `EngineConfig`, nothing of the server's settings
(which hold API keys), and it imports torch; this process never does.

Images cross as raw RGB pixels, each once per call however many questions ask about
it. `locvlm.serving` sends them squashed to the model's input already; any other caller's
image of over 4x those pixels is squashed here (in a worker thread), so a message never
carries an upload, and smaller ones in the child's worker, as in-process. If the child
dies, every pending call fails with `EngineDeadError` and readiness reports it. Both
sides read and write the socket on their event loop (asyncio streams: no reader thread
to hand each message over, writes buffered so neither side blocks on a full pipe).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from locvlm.engines._process_child import child_main
from locvlm.engines._wire import Wire, to_wire
from locvlm.engines.base import (
    Constraint,
    Engine,
    EngineStats,
    GenerationRequest,
    GenerationResult,
    pieces_until,
)
from locvlm.engines.config import EngineConfig
from locvlm.engines.errors import EngineDeadError, InvalidInputError, PromptTooLongError

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from locvlm.model.sidecar import Sidecar

__all__ = ["ProcessEngine"]

_log = logging.getLogger("locvlm.engines")
_CROSSING = (ValueError, FileNotFoundError, EngineDeadError, InvalidInputError, PromptTooLongError)
_ERRORS: dict[str, type[Exception]] = {error.__name__: error for error in _CROSSING}
"""Exceptions that cross the pipe as themselves (callers handle them); others are
RuntimeErrors with the child's message."""


class ProcessEngine(Engine):
    """A proxy for `TransformersEngine` running in a child process."""

    name = "transformers-process"

    def __init__(
        self,
        process: BaseProcess,
        wire: Wire,
        sidecar: Sidecar,
        stats: EngineStats,
    ) -> None:
        self.sidecar = sidecar
        self._process, self._wire = process, wire
        self._loop = asyncio.get_running_loop()
        self._calls: dict[int, tuple[asyncio.Future[Any], int]] = {}  # call -> (answer, rows)
        self._texts: dict[int, asyncio.Queue[str]] = {}  # streamed call -> its answer so far
        self._ids = itertools.count()
        self._child_stats = stats
        self._dead: str | None = None
        self._closed = False
        self._reader = self._loop.create_task(self._read(), name="locvlm-engine-pipe")

    @classmethod
    async def create(cls, config: EngineConfig) -> ProcessEngine:
        """Spawn the child, wait until its engine has loaded (or failed to).

        Raises:
            EngineDeadError: the child exited while loading.
            ValueError, FileNotFoundError: the child's engine refused `config`.
        """
        ctx = multiprocessing.get_context("spawn")  # no fork: the parent has threads
        parent, child = ctx.Pipe()
        process = ctx.Process(
            target=child_main,
            args=(config, child, logging.getLogger("locvlm").getEffectiveLevel()),
            name="locvlm-engine",
            daemon=True,
        )
        process.start()
        child.close()
        wire = await Wire.open(parent)
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
            PromptTooLongError: a prompt and its answer would not fit the model's context.
        """
        self._check_alive()
        if not requests:
            return []
        wires = await to_wire(requests, self.adapter)  # a bad image fails here
        results: list[GenerationResult] = await self._call("generate", wires, len(wires))
        return results

    async def check_constraint(self, constraint: Constraint) -> None:
        """Ask the child (this process has no xgrammar: it would import torch).

        Raises:
            InvalidInputError: not a pattern the engine supports.
            EngineDeadError: the child has died or the engine was shut down.
        """
        self._check_alive()
        await self._call("check", constraint, 0)

    def _check_alive(self) -> None:
        if self._dead is not None or self._closed:
            raise EngineDeadError(self._dead or "the engine process is shut down")

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | GenerationResult]:
        """The child's engine streams (a piece per decoded token); see `Engine.stream`.

        Raises:
            EngineDeadError: the child has died or the engine was shut down.
        """
        self._check_alive()
        wires = await to_wire([request], self.adapter)
        texts: asyncio.Queue[str] = asyncio.Queue()
        call, future = self._open("stream", wires, 1, texts)
        try:
            async for piece in pieces_until(texts, future):
                yield piece
        finally:
            self._close(call)

    async def _call(self, kind: str, payload: Any, rows: int) -> Any:
        """Send one message and await the child's answer to it (`rows`: for `stats`)."""
        call, future = self._open(kind, payload, rows)
        try:
            return await future
        finally:
            self._close(call)

    def _open(
        self, kind: str, payload: Any, rows: int, texts: asyncio.Queue[str] | None = None
    ) -> tuple[int, asyncio.Future[Any]]:
        """Send a call; its answer will settle the future (partial texts go to `texts`)."""
        self._check_alive()  # again: the engine may have died while the call was prepared
        call = next(self._ids)
        future: asyncio.Future[Any] = self._loop.create_future()
        self._calls[call] = (future, rows)
        if texts is not None:
            self._texts[call] = texts
        try:
            self._send((kind, call, payload))
        except BaseException:
            self._close(call)
            raise
        return call, future

    def _close(self, call: int) -> None:
        """The caller is done with `call`; cancel it in the child if still unanswered."""
        self._texts.pop(call, None)
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
        if kind == "piece":  # a streamed answer so far
            texts = self._texts.get(call)
            if texts is not None:
                texts.put_nowait(payload)
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
