"""The decoded pixels all in-flight requests may hold at once (`LOCVLM_MAX_DECODED_PIXELS`).

    taken = await budget.acquire(width * height)
    ...  # decode the image and answer the request
    budget.release(taken)  # in a `finally` (`locvlm.api.deps.get_images`)

A request takes its image's pixel count (read from the header, before decoding) and
gives it back when its answer is complete, so the server's image memory is bounded
whatever the concurrency: a decoded frame is 4 bytes a pixel (Pillow's RGB), twice that
while it decodes (`locvlm.api.images`), so at most `8 * total` bytes. A request whose
pixels are not free waits, first come first served, within its request timeout; it is
never refused for it. One image alone is never over the budget (`Settings` checks that
`max_image_pixels <= max_decoded_pixels`).
"""

from __future__ import annotations

import asyncio
import collections

__all__ = ["PixelBudget"]


class PixelBudget:
    """A counting semaphore of pixels, fair (FIFO) so a large image is not starved."""

    def __init__(self, total: int) -> None:
        if total <= 0:
            raise ValueError("a pixel budget must be positive")
        self.total = total
        self.free = total
        self._waiting: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    async def acquire(self, pixels: int) -> int:
        """Wait until `pixels` (at most the total) are free and take them; returns the count.

        Cancelling the wait takes nothing.
        """
        pixels = max(0, min(pixels, self.total))
        if not self._waiting and pixels <= self.free:
            self.free -= pixels
            return pixels
        future = asyncio.get_running_loop().create_future()
        entry = (pixels, future)
        self._waiting.append(entry)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # granted as it was cancelled
                self.release(pixels)
            else:
                if entry in self._waiting:  # _wake drops a cancelled waiter itself
                    self._waiting.remove(entry)
                self._wake()  # the one behind it may fit now
            raise
        return pixels

    def release(self, pixels: int) -> None:
        """Give back what `acquire` returned."""
        self.free = min(self.total, self.free + pixels)
        self._wake()

    def _wake(self) -> None:
        """Grant the waiters at the head of the queue that fit, in order."""
        while self._waiting and self._waiting[0][0] <= self.free:
            pixels, future = self._waiting.popleft()
            if future.cancelled():  # its task was cancelled and has not run yet
                continue
            self.free -= pixels
            future.set_result(None)
