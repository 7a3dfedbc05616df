"""The process engine's wire: framed pickles over a socket pair, and requests as plain values.

    wire = await Wire.open(conn)   # one end of a `multiprocessing` pipe
    wire.send(("generate", call, await to_wire(requests, adapter)))

Both sides read and write on their event loop (asyncio streams: no reader thread to hand
each message over, writes buffered so neither side blocks on a full pipe).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import socket
import struct
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from PIL import Image

from locvlm.engines.base import GenerationRequest

if TYPE_CHECKING:
    from locvlm.adapters import Adapter

__all__ = ["SQUASH_HERE", "Wire", "from_wire", "to_wire"]


class Wire:
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
    async def open(cls, conn: Connection) -> Wire:
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


# --- requests cross as plain values --------------------------------------------------
SQUASH_HERE = 4
"""An image of over this many times the model's pixels is squashed before it is sent."""


async def to_wire(requests: Sequence[GenerationRequest], adapter: Adapter) -> list[dict[str, Any]]:
    """The requests as plain values, each image's pixels once (pickle shares them).

    For a model with a square input, an image of over `SQUASH_HERE` x the pixels it sees
    is prepared (`Adapter.prepare`: squashed) first, in a thread (it may be large), to
    keep the message small; smaller ones are prepared in the child's worker thread, as
    the in-process engine does (identical pixels either way). A family whose processor
    resizes gets the image as it is.
    """
    side = adapter.sidecar.image_size
    pixels: dict[int, tuple[str, tuple[int, int], bytes]] = {}
    for key, image in {id(r.image): r.image for r in requests}.items():
        if side and image.width * image.height > SQUASH_HERE * side * side:
            image = await asyncio.to_thread(adapter.prepare, image)
        elif image.mode != "RGB":
            image = image.convert("RGB")
        pixels[key] = (image.mode, image.size, image.tobytes())
    return [{"pixels": pixels[id(r.image)], "question": r.question,
             "max_new_tokens": r.max_new_tokens, "constraint": r.constraint,
             "request_id": r.request_id, "coming": r.coming,
             "logprobs": r.logprobs} for r in requests]  # fmt: skip


def from_wire(wires: list[dict[str, Any]]) -> list[GenerationRequest]:
    """The requests again; those that shared an image share it again."""
    images: dict[int, Image.Image] = {}
    requests = []
    for wire in wires:
        mode, size, data = wire.pop("pixels")
        if id(data) not in images:
            images[id(data)] = Image.frombytes(mode, size, data)
        requests.append(GenerationRequest(image=images[id(data)], **wire))
    return requests
