"""The process engine's child: `TransformersEngine` serving the parent over the wire.

Started by `ProcessEngine.create` with the spawn method: its arguments (the
`EngineConfig` and one end of the pipe) are all it knows of the server. Messages in:
`generate`, `stream`, `check` (a constraint), `cancel`, `stop`; out: `ready` or `failed`
once, then `done` or `error` per call (after `piece`s, the answer so far, for a `stream`)
and `stats` whenever a batch starts or ends.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from locvlm.engines._wire import Wire, from_wire
from locvlm.engines.config import EngineConfig

if TYPE_CHECKING:
    from locvlm.engines.base import GenerationRequest, GenerationResult
    from locvlm.engines.transformers_engine import TransformersEngine

__all__ = ["child_main"]


def child_main(config: EngineConfig, conn: Connection, log_level: int) -> None:
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
        asyncio.run(_serve(config, conn))
    else:
        uvloop.run(_serve(config, conn))


async def _serve(config: EngineConfig, conn: Connection) -> None:
    from locvlm.engines.transformers_engine import TransformersEngine  # torch: child only

    wire = await Wire.open(conn)
    try:
        engine = await TransformersEngine.create(config)
    except Exception as exc:
        wire.send(("failed", -1, (type(exc).__name__, str(exc)), None))
        await wire.aclose()
        return
    wire.send(("ready", -1, engine.sidecar, engine.stats()))
    await _Child(engine, wire).serve()


class _Child:
    """Runs each call of the parent as a task, answers it, and reports the counters."""

    def __init__(self, engine: TransformersEngine, wire: Wire) -> None:
        self.engine, self.wire = engine, wire
        self.tasks: dict[int, asyncio.Task[None]] = {}

    async def serve(self) -> None:
        """Take calls until told to stop (or the parent is gone), then shut down."""
        loop = asyncio.get_running_loop()
        reporter = loop.create_task(self._report())
        while True:
            try:
                kind, call, payload = await self.wire.recv()
            except EOFError:  # the parent is gone: stop
                break
            work: Callable[[], Awaitable[Any]] | None = None
            if kind == "generate":
                work = functools.partial(self.engine.generate, from_wire(payload))
            elif kind == "stream":
                work = functools.partial(self._stream, call, from_wire(payload)[0])
            elif kind == "check":
                work = functools.partial(self.engine.check_constraint, payload)
            if work is not None:
                self.tasks[call] = loop.create_task(self._answer(call, work))
            elif kind == "cancel" and call in self.tasks:
                self.tasks[call].cancel()
            elif kind == "stop":
                break
        reporter.cancel()
        for task in self.tasks.values():
            task.cancel()
        await self.engine.shutdown()
        await self.wire.aclose()

    async def _report(self) -> None:
        """The counters whenever a batch starts or ends (answers carry them too)."""
        while True:
            await self.engine.changed.wait()
            self.engine.changed.clear()
            self.wire.send(("stats", -1, None, self.engine.stats()))

    async def _stream(self, call: int, request: GenerationRequest) -> GenerationResult:
        """Send the answer so far as `piece` messages; the result is the call's answer."""
        text = ""
        async for piece in self.engine.stream(request):
            if isinstance(piece, str):
                text += piece
                self.wire.send(("piece", call, text, self.engine.stats()))
            else:
                return piece
        raise RuntimeError("the stream ended without a result")

    async def _answer(self, call: int, work: Callable[[], Awaitable[Any]]) -> None:
        try:
            answer: tuple[str, Any] = ("done", await work())
        except asyncio.CancelledError:
            return
        except Exception as exc:
            answer = ("error", (type(exc).__name__, str(exc)))
        finally:
            self.tasks.pop(call, None)
        self.wire.send((answer[0], call, answer[1], self.engine.stats()))
