"""Several engine asks of one request at once; the first failure stops the others.

`asyncio.gather` leaves the other awaitables running when one fails (their engine work
wasted, the request already lost), and `asyncio.TaskGroup` raises an `ExceptionGroup`,
which the API's error handlers (matched by the engine error's type) would not recognise.
`together` cancels the rest, waits for them to end, and raises the first error as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["together"]

T = TypeVar("T")


async def together(*works: Awaitable[T]) -> list[T]:
    """The results of `works`, run concurrently, in order.

    On the first failure the works still running are cancelled and waited for, then that
    error is raised unchanged; when the caller is cancelled, so are they.
    """
    tasks = [asyncio.ensure_future(work) for work in works]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()  # a no-op on those already done
        await asyncio.gather(*tasks, return_exceptions=True)
