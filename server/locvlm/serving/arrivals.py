"""Requests on their way to the engine: admitted by the server, not yet asked of it.

    arrivals = Arrivals()
    with arrivals.admitted():           # around one request (`locvlm.api.limits`)
        ...                             # decode the image, validate
        coming = arrivals.arrived()     # it asks the engine now: how many follow it

The count is the engine's batching hint (`GenerationRequest.coming`): a burst of requests
reaches the engine one by one, as fast as the server decodes them, and a micro-batcher
that knows more are on their way waits for them instead of cutting the burst in two.
Which request is which is kept in a context variable, so `arrived` needs no argument
and a request that asks the engine several times leaves the count once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Arrivals"]


class Arrivals:
    """How many admitted requests have not reached the engine yet (one per app)."""

    def __init__(self) -> None:
        self.count = 0
        self._underway: ContextVar[list[bool] | None] = ContextVar("underway", default=None)

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """Around one request: it counts as on its way until it `arrived` or ends."""
        underway = [True]  # shared with the tasks the request's context is copied into
        token = self._underway.set(underway)
        self.count += 1
        try:
            yield
        finally:
            self._underway.reset(token)
            if underway[0]:  # it never reached the engine (refused, failed, no engine call)
                self.count -= 1

    def arrived(self) -> int:
        """The current request reaches the engine; how many others are still on their way."""
        underway = self._underway.get()
        if underway is not None and underway[0]:
            underway[0] = False
            self.count -= 1
        return self.count
