"""Firing schedules on time: one in-memory timer heap over durable schedule records.

Each provider keeps its schedules in the store with their next fire time; the runner holds
``(real fire time, key)`` for every active schedule and calls ``fire(key)`` when one is due.
``fire`` does the work (enqueue the target invocations and store the next fire time, in one
transaction) and returns the next real fire time, or None when the schedule is done. On start-up
the provider plans every stored schedule again; one whose fire time passed while the server was
down fires once, then continues from the current time.

In a cluster every node that knows a schedule keeps its timer, and each fire runs in a
transaction holding the schedule's cluster-wide lock (``Store.exclusive``): the node that comes
second finds the stored fire time already moved on (``fire`` re-reads it) and only re-plans, so
an occurrence fires once, and it still fires when the node that usually wins has died.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

from cumulo.store.base import Store

log = logging.getLogger("cumulo.schedules")
Fire = Callable[[Hashable], "float | Awaitable[float | None] | None"]
MAX_WAIT_S = 30.0


class ScheduleRunner:
    def __init__(self, fire: Fire, name: str = "schedules", store: Store | None = None) -> None:
        self._fire = fire
        self.name = name
        self._shared_store = store if store is not None and store.shared else None
        self._heap: list[tuple[float, int, Hashable]] = []
        self._planned: dict[Hashable, float] = {}
        self._counter = itertools.count()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None

    def plan(self, key: Hashable, when: float | None) -> None:
        """Fire ``key`` at real epoch time ``when``; None forgets it."""
        if when is None:
            self._planned.pop(key, None)
            return
        self._planned[key] = when
        heapq.heappush(self._heap, (when, next(self._counter), key))
        self._wakeup.set()

    def planned(self, key: Hashable) -> float | None:
        return self._planned.get(key)

    def __len__(self) -> int:
        return len(self._planned)

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _fire_once(self, key: Hashable) -> float | Awaitable[float | None] | None:
        if self._shared_store is None:
            return self._fire(key)
        with self._shared_store.transaction():
            self._shared_store.exclusive(f"{self.name}:{key}")
            return self._fire(key)  # a synchronous fire's own transaction joins this one

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            now = time.time()
            while self._heap and self._heap[0][0] <= now:
                when, _, key = heapq.heappop(self._heap)
                if self._planned.get(key) != when:
                    continue  # replanned or forgotten since
                del self._planned[key]
                try:
                    following = self._fire_once(key)
                    if inspect.isawaitable(following):
                        following = await following
                except Exception:
                    log.exception("schedule %r failed to fire", key)
                    following = None
                if following is not None and key not in self._planned:
                    self.plan(key, following)
                now = time.time()
            wait = MAX_WAIT_S
            if self._heap:
                wait = min(wait, self._heap[0][0] - now)
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=max(wait, 0.001))
            except TimeoutError:
                pass
