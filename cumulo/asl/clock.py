"""Time for the engine: the real clock, and a manual one that tests drive.

Every Wait state, retry delay, task timeout and heartbeat deadline goes through a `Clock`, with
absolute deadlines (epoch seconds). Absolute deadlines are what make a resumed execution wait
for the *rest* of a long Wait instead of starting it over.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once ``now() >= deadline``."""
        ...


class DeadlineReached(Exception):
    """The clock reached the deadline before the work raced against it finished."""


async def until(clock: Clock, awaitable: Awaitable[Any], deadline: float | None) -> Any:
    """Await ``awaitable``; raise DeadlineReached (cancelling it) if ``clock`` reaches ``deadline``."""
    if deadline is None:
        return await awaitable
    work = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep_until(deadline))
    try:
        await asyncio.wait((work, timer), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        work.cancel()
        raise
    finally:
        timer.cancel()
    if work.done():
        return work.result()
    work.cancel()
    await asyncio.gather(work, return_exceptions=True)
    raise DeadlineReached


class SystemClock:
    """Wall-clock time."""

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        while (remaining := deadline - time.time()) > 0:
            await asyncio.sleep(remaining)


class ManualClock:
    """A clock that only moves when told to (`advance`, `advance_to`), for deterministic tests.

    `wait_for_sleepers` lets a test wait, without any fixed sleep, until the engine is blocked
    on the clock.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    @property
    def deadlines(self) -> list[float]:
        """Deadlines the engine is currently sleeping until, earliest first."""
        return sorted(d for d, _, f in self._sleepers if not f.done())

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._seq), future))
        await future

    def advance(self, seconds: float) -> None:
        self.advance_to(self._now + seconds)

    def advance_to(self, when: float) -> None:
        self._now = max(self._now, when)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    async def wait_for_sleepers(self, count: int = 1, max_iterations: int = 10_000) -> list[float]:
        """Yield to the event loop until ``count`` sleepers are pending; return their deadlines."""
        for _ in range(max_iterations):
            pending = self.deadlines
            if len(pending) >= count:
                return pending
            await asyncio.sleep(0)
        raise TimeoutError(f"the engine did not block on the clock ({len(self.deadlines)} sleepers)")


class VirtualClock(ManualClock):
    """Virtual time: whenever the event loop has nothing else to do, jump to the next deadline.

    Waits and retry delays complete at once, in deadline order, while timeouts that race live
    work still behave (the work finishes first). For benchmarks and tests of long waits.
    """

    #: event-loop turns without progress after which the loop counts as idle
    IDLE_TURNS = 50

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        super().__init__(start)
        self._driver: asyncio.Task[None] | None = None

    async def sleep_until(self, deadline: float) -> None:
        if self._driver is None or self._driver.done():
            self._driver = asyncio.get_running_loop().create_task(self._drive())
        await super().sleep_until(deadline)

    async def _drive(self) -> None:
        while True:
            for _ in range(self.IDLE_TURNS):
                await asyncio.sleep(0)
            pending = self.deadlines
            if not pending:
                return
            self.advance_to(pending[0])
