"""A response the function streams (``Lambda-Runtime-Function-Response-Mode: streaming``), on its
way from the environment to whoever asked for it.

The environment puts the bytes in as the agent relays them and finishes the stream when the
runtime's body is complete, or fails it (a function error in the trailers, a timeout, the
runtime's exit); the consumer (InvokeWithResponseStream, a function URL) iterates the pieces as
they come. A consumer that only wants the whole answer (``Invoke``, asynchronous events) calls
``collect``. Pieces are kept until they are read: a stream whose reader went away is read to its
end by nobody, which the 200 MB limit bounds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

_END = b""


class ResponseStream:
    def __init__(self, content_type: str) -> None:
        self.content_type = content_type
        self.error_type: str | None = None
        self.error_body = b""
        self.finished = False
        self._pieces: asyncio.Queue[bytes] = asyncio.Queue()

    def put(self, data: bytes) -> None:
        if data and not self.finished:
            self._pieces.put_nowait(data)

    def finish(self, error_type: str | None = None, error_body: bytes = b"") -> None:
        if self.finished:
            return
        self.finished = True
        self.error_type = error_type
        self.error_body = error_body
        self._pieces.put_nowait(_END)

    async def pieces(self) -> AsyncIterator[bytes]:
        """The bytes as they arrive, until the stream is finished (check ``error_type`` after)."""
        while True:
            piece = await self._pieces.get()
            if piece is _END:
                self._pieces.put_nowait(_END)  # a second reader ends at once
                return
            yield piece

    async def collect(self) -> bytes:
        return b"".join([piece async for piece in self.pieces()])
