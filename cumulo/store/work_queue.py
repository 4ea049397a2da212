"""Durable work on a store queue: a dispatcher leases messages and runs each in its own task.

Work is committed to the queue before it is acknowledged, leased while it runs and deleted
(or re-queued with a delay) when it is settled, so a crash or ``kill -9`` loses nothing: the
next start releases the leases of the previous process and the work runs again (at least once,
as AWS delivers). Subclasses say how one message is processed; Lambda's asynchronous invocations
and EventBridge's target deliveries are two such queues.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from cumulo.store.base import QueueMessage

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.store")


class DurableWorkQueue:
    """``workers`` messages at most in flight, leased for ``lease_s``, received ``batch`` at a time."""

    #: what the queue's work is called in the start-up line ("asynchronous invocations", ...)
    work_name = "messages"

    def __init__(self, platform: Platform, queue: str, workers: int, batch: int, lease_s: float) -> None:
        self.platform = platform
        self.store = platform.store
        self.queue = queue
        self.workers = workers
        self.batch = batch
        self.lease_s = lease_s
        self._active: set[asyncio.Task] = set()
        self._loop_task: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        # A cluster's other nodes hold live leases on the same queue: there a dead node's leases
        # simply expire (after lease_s) and its work resumes on whichever node receives it next.
        released = 0 if self.store.shared else self.store.release_in_flight(self.queue)
        if released:
            log.info("resuming %d %s (%s) leased before a restart", released, self.work_name, self.queue)
        if self.workers > 0:
            self._loop_task = asyncio.get_running_loop().create_task(self._dispatch(), name=self.queue)

    async def stop(self) -> None:
        self._stopping = True
        if self._loop_task is not None:
            self._loop_task.cancel()
        for task in list(self._active):
            task.cancel()
        await asyncio.gather(*([self._loop_task] if self._loop_task else []), *self._active,
                             return_exceptions=True)

    def wake(self) -> None:
        """Tell the dispatcher that work is waiting (after the enqueue has committed)."""
        self.platform.notifier.notify(self.queue)

    def pending(self) -> int:
        stats = self.store.queue_stats(self.queue)
        return stats.visible + stats.in_flight + stats.delayed

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            want = min(self.workers - len(self._active), self.batch)
            messages = self.store.receive(self.queue, want, self.lease_s) if want > 0 else []
            for message in self._before_tasks(messages):
                task = loop.create_task(self._process(message))
                self._active.add(task)
                task.add_done_callback(self._active.discard)
            if messages and len(messages) == want:
                await asyncio.sleep(0)  # there may be more waiting; let the tasks start first
                continue
            await self.platform.notifier.wait(self.queue, self._idle_wait())

    def _before_tasks(self, messages: list[QueueMessage]) -> list[QueueMessage]:
        """Handle what needs no task of its own; the messages left get one each."""
        return messages

    def _idle_wait(self) -> float:
        if self.workers - len(self._active) <= 0:
            return 0.05
        upcoming = self.store.next_visible_at(self.queue)
        if upcoming is None:
            return 5.0
        return max(0.001, min(5.0, upcoming - time.time()))

    async def _process(self, message: QueueMessage) -> None:
        raise NotImplementedError
