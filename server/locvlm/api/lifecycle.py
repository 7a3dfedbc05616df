"""The server's life: loading -> ready -> draining (or dead), and the drain on SIGTERM.

The engine loads in the background once the server listens, so `/healthz` answers at
once and `/readyz` says 503 until the model is up (and again when it dies or drains).

When the engine dies (its child process killed, out of memory, a crash), the requests it
was answering get 503 and it is loaded again, up to `engine_restarts` times, with
`/readyz` saying "loading" meanwhile: an orchestrator stops routing to the server rather
than restarting the container. Past that (or if the first load fails), the phase is
"dead" and the server exits with status 1. An engine that serves for `_STEADY_S` resets
the count, so rare deaths over weeks do not add up to an exit.

On SIGTERM (or Ctrl+C) `DrainingServer`, a uvicorn `Server`, first flips the phase to
draining: `/readyz` answers 503 and new `/v1` requests are refused with 503 while the
listener stays open, so probes and load balancers see it. The requests in flight finish,
for up to `drain_timeout_s`; only then does uvicorn's own shutdown start (close the
listener, close idle connections, cancel what is left), and the lifespan shuts the
engine down. A second signal skips the wait.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from types import FrameType

import httpx
import uvicorn

from locvlm.api.fetch import new_fetch_client
from locvlm.api.pixel_budget import PixelBudget
from locvlm.api.settings import Settings
from locvlm.engines.factory import open_engine
from locvlm.serving.arrivals import Arrivals
from locvlm.serving.context import ServingContext, ServingObserver
from locvlm_client import Phase

__all__ = ["DrainingServer", "Lifecycle"]

_log = logging.getLogger("locvlm.api")
_STEADY_S = 300.0  # an engine up this long has its restarts forgiven
_POLL_S = 0.1  # how often a serving engine is checked for death
_BACKOFF_S = (1.0, 2.0, 4.0, 8.0)  # before the 1st, 2nd, ... restart in a row


class Lifecycle:
    """The engine, the phase, and the count of `/v1` requests in flight (one per app)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.serving: ServingContext | None = None
        self.fetch_client: httpx.AsyncClient | None = None
        self.observer: ServingObserver | None = None  # the app's metrics (create_app)
        self.in_flight = 0
        self.arrivals = Arrivals()  # of those, the ones that have not asked the engine yet
        self.pixels = PixelBudget(settings.max_decoded_pixels)  # decoded images in flight
        self.started_at = int(time.time())
        self.restarts = 0  # engine restarts since the server started (a metric)
        self._restarts_left = settings.engine_restarts
        self._draining = False
        self._failed = False
        self._changed = asyncio.Event()  # set whenever in_flight drops
        self._stop = asyncio.Event()
        self.aborted = asyncio.Event()
        """Set when a drain times out: the requests still in flight answer 503 and end."""

    @property
    def phase(self) -> Phase:
        """Where the server is; only `ready` serves `/v1`."""
        engine = self.serving.engine if self.serving else None
        if self._failed:
            return "dead"
        if engine is not None and engine.errored:  # until `_hold_engine` sees it
            return "loading" if self._restarts_left > 0 else "dead"
        if self._draining:
            return "draining"
        return "ready" if engine is not None and engine.ready else "loading"

    # --- requests in flight (counted by locvlm.api.limits) ------------------------
    def enter(self) -> None:
        """A `/v1` request starts."""
        self.in_flight += 1

    def leave(self) -> None:
        """A `/v1` request ends (answered, failed, cancelled)."""
        self.in_flight -= 1
        self._changed.set()

    def begin_drain(self) -> None:
        """Refuse new `/v1` requests and report not ready; in-flight ones go on."""
        if not self._draining:
            _log.info("draining: %d request(s) in flight", self.in_flight)
        self._draining = True

    async def drain(self, timeout_s: float, answer_s: float = 2.0) -> int:
        """Begin draining and wait up to `timeout_s` for the in-flight requests.

        Past it, the ones left are told to stop (`aborted`): each answers 503 in the
        API's error shape, and they get `answer_s` more to send it.

        Returns:
            How many were still in flight at the timeout (0: all finished).
        """
        self.begin_drain()
        if await self._settled(timeout_s):
            return 0
        left = self.in_flight
        self.aborted.set()
        await self._settled(answer_s)
        return left

    async def _settled(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for no request in flight; whether that happened."""
        try:
            async with asyncio.timeout(timeout_s):
                while self.in_flight > 0:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    # --- the engine (held by the app's lifespan) ----------------------------------
    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Load the engine in the background; on exit, shut it down (or stop loading)."""
        self.fetch_client = new_fetch_client()
        holder = asyncio.create_task(self._hold_engine(), name="locvlm-engine")
        try:
            yield
        finally:
            self._draining = True
            self._stop.set()
            if self.serving is None:  # still loading: stop that
                holder.cancel()
            await asyncio.gather(holder, return_exceptions=True)
            await self.fetch_client.aclose()

    async def _hold_engine(self) -> None:
        """Serve an engine until stopped; restart it when it dies, while restarts last."""
        first = True
        while not self._stop.is_set():
            try:
                died = await self._serve_engine()
            except Exception:
                if first or self._stop.is_set() or self._restarts_left == 0:
                    self._failed = True
                    stage = "stop" if self._stop.is_set() else "start"
                    _log.exception("the engine failed to %s", stage)
                    return
                _log.exception("the engine failed to restart")
                died = True
            first = False
            if not died:
                return
            if self._restarts_left == 0:
                self._failed = True
                _log.error("the engine died, and no restart is left")
                return
            self._restarts_left -= 1
            self.restarts += 1
            used = self.settings.engine_restarts - self._restarts_left
            _log.warning("restarting the engine (%d of %d)", used, self.settings.engine_restarts)
            delay = _BACKOFF_S[min(used, len(_BACKOFF_S)) - 1]
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _serve_engine(self) -> bool:
        """Load the engine and serve with it until stopped (False) or until it dies (True)."""
        async with open_engine(self.settings.engine_config()) as engine:
            self.serving = ServingContext(
                engine, self.settings.served(engine.sidecar), self.settings.max_new_tokens,
                observer=self.observer, arrivals=self.arrivals,
            )  # fmt: skip
            _log.info("ready: %s engine, model %s", engine.name, self.settings.model)
            up_at = time.monotonic()
            try:
                while not self._stop.is_set() and not engine.errored:
                    if time.monotonic() - up_at >= _STEADY_S:
                        self._restarts_left = self.settings.engine_restarts
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), _POLL_S)
            finally:
                self.serving = None
            return engine.errored and not self._stop.is_set()


class DrainingServer(uvicorn.Server):
    """uvicorn, with a drain before its shutdown and an exit when the engine dies."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_requested = False
        self._drain_task: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Remember the loop (signals schedule the drain on it), then start uvicorn."""
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: drain, then shut down. Second (or before serving): uvicorn's own."""
        if self._drain_requested or not self.started or self._loop is None:
            super().handle_exit(sig, frame)
            return
        self._drain_requested = True
        _log.info("%s: draining for up to %gs", signal.Signals(sig).name,
                  self.lifecycle.settings.drain_timeout_s)  # fmt: skip
        self.lifecycle.begin_drain()
        # A signal handler runs between bytecodes of the loop's thread: only schedule here.
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        if self._drain_task is None:
            self._drain_task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        left = await self.lifecycle.drain(self.lifecycle.settings.drain_timeout_s)
        if left:
            _log.warning("drain timeout: answered %d request(s) still in flight with 503", left)
        self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        """Stop serving when the engine is dead (it failed to load or crashed)."""
        if self.lifecycle.phase == "dead" and not self.should_exit:
            _log.error("the engine is dead: shutting down")
            self.should_exit = True
        return await super().on_tick(counter)
