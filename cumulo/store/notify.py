"""Wake-up hints between writers and waiters (long polls, dispatchers).

A hint says "something may have changed on this channel"; waiters always re-read the store
after waking, so a lost or spurious hint costs latency, never correctness. In one process the
hints are asyncio futures; cluster mode backs the same interface with PostgreSQL
LISTEN/NOTIFY plus polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Notifier:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        #: in cluster mode, passes every hint on to the other nodes (``PostgresStore.publish_hint``)
        self.relay: Callable[[str], None] | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def notify(self, channel: str) -> None:
        """Wake everyone waiting on ``channel``, on every node; safe to call from any thread."""
        if self.relay is not None:
            self.relay(channel)
        self.notify_here(channel)

    def notify_here(self, channel: str) -> None:
        """Wake the waiters of this process only (a hint relayed from another node)."""
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake(channel)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._wake, channel)

    def _wake(self, channel: str) -> None:
        for future in self._waiters.pop(channel, ()):
            if not future.done():
                future.set_result(None)

    async def wait(self, channel: str, timeout: float) -> bool:
        """Wait for a hint on ``channel`` for at most ``timeout`` seconds; True if one came."""
        if timeout <= 0:
            return False
        loop = asyncio.get_running_loop()
        self._loop = self._loop or loop
        future: asyncio.Future[None] = loop.create_future()
        waiters = self._waiters.setdefault(channel, set())
        waiters.add(future)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiters.discard(future)
            if not waiters and self._waiters.get(channel) is waiters:
                del self._waiters[channel]
