"""Tasks that wait for an answer from outside: ``.waitForTaskToken`` and activities.

A `Callback` is registered under the task token while the task waits: SendTaskSuccess,
SendTaskFailure and SendTaskHeartbeat reach it through the `Execution`. An answer that arrives
while the task is still being submitted is recorded at once as an ``:early`` memo (README.md).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from cumulo.asl.clock import Clock, DeadlineReached
from cumulo.asl.history import Memo

if TYPE_CHECKING:
    from cumulo.asl.engine import Execution


class UnknownTaskToken(KeyError):
    """send_task_* with a token this execution is not waiting for (AWS: TaskDoesNotExist)."""


class HeartbeatTimeout(Exception):
    """No heartbeat arrived within the task's HeartbeatSeconds."""


class Callback:
    """A task waiting for SendTaskSuccess / SendTaskFailure, with its heartbeat deadline."""

    def __init__(self, site: str, last_heartbeat: Memo | Any, started: float) -> None:
        self.site = site
        self.future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self.heartbeat = asyncio.Event()
        self.last_heartbeat = last_heartbeat.value if isinstance(last_heartbeat, Memo) else started
        self.recorded = asyncio.Event()
        self.marker: asyncio.Future[None] | None = None
        #: the execution while the task is being submitted (the invoker has not returned yet)
        self.submitting: Execution | None = None

    async def deliver(self, outcome: tuple[Any, ...]) -> None:
        if not self.future.done():
            self.future.set_result(outcome)
            execution = self.submitting
            if execution is not None:
                # The outcome arrived before the submission returned (e.g. a function that calls
                # SendTaskSuccess before it returns): record it now, so that the sender can be
                # answered without waiting for the submission, and a resumed run finds it.
                execution.set_memo(f"{self.site}:early", list(outcome))
                await execution.flush()
                return
        await self.recorded.wait()

    def recorded_after(self, execution: Execution) -> None:
        async def mark() -> None:
            await execution.flush()
            self.recorded.set()
        self.marker = asyncio.ensure_future(mark())

    async def wait(self, clock: Clock, deadline: float | None, heartbeat: int | None) -> tuple[Any, ...]:
        while True:
            limits = [t for t in (deadline, None if heartbeat is None else self.last_heartbeat + heartbeat)
                      if t is not None]
            if not limits:
                return await self.future
            self.heartbeat.clear()
            timer = asyncio.ensure_future(clock.sleep_until(min(limits)))
            beat = asyncio.ensure_future(self.heartbeat.wait())
            try:
                await asyncio.wait((self.future, timer, beat), return_when=asyncio.FIRST_COMPLETED)
            finally:
                timer.cancel()
                beat.cancel()
            if self.future.done():
                return self.future.result()
            now = clock.now()
            if deadline is not None and now >= deadline:
                raise DeadlineReached
            if heartbeat is not None and now >= self.last_heartbeat + heartbeat:
                raise HeartbeatTimeout
