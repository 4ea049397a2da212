"""Asynchronous invocation: a durable queue of accepted events and the workers that run them.

``accept`` commits the event to the store before the caller answers 202, so an accepted
event survives ``kill -9``: on start-up, events that a dead process had leased are made
visible again and run (at least once, as AWS promises). Workers lease events, run them
through the function runner and settle each one:

* success: the event is done;
* function error: retried after about 1 then 2 minutes (``retry_delay_scale`` shrinks this
  for tests), up to the retry limit (2 by default);
* throttled: waits, still leased, in its line for a concurrency slot (``invoke.waiting_line``) and
  runs as soon as an invocation of its scope ends, so a backlog drains at the concurrency the
  function is allowed; throttles are not attempts, and the maximum event age (6 hours by default)
  still holds while it waits;
* retries exhausted or too old: given to the failure hook (DLQ/destinations).

A retry is a new queue entry with a delay, committed together with the removal of the old
one, so a restart never loses or duplicates the retry schedule (``targets.retrying``, the
skeleton this queue shares with EventBridge's target deliveries).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cumulo.invoke.concurrency import RESERVED_EXCEEDED, function_key, limit_scope
from cumulo.invoke.waiting_line import WaitingLines
from cumulo.protocol.errors import AwsError
from cumulo.store.base import QueueMessage
from cumulo.targets.retrying import RetryingWorkQueue

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.invoke")
QUEUE = "lambda.async"
LEASE_S = 960.0  # longer than the longest function timeout plus start-up
MAX_WORKERS = 64
DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE_S = 6 * 3600
RETRY_DELAYS_S = (60.0, 120.0)
THROTTLE_BACKOFF_S = (1.0, 300.0)  # only when too many payload bytes are waiting already
WAITING_BYTES_LIMIT = 256 * 1024 * 1024  # payloads held in memory by throttled events waiting for a slot
LEASE_REFRESH_S = 60.0  # a woken event renews an older lease before it runs (the run may take 15 minutes)


@dataclass
class AsyncEvent:
    account: str
    region: str
    function: str
    qualifier: str | None
    payload: bytes
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    accepted_at: float = field(default_factory=time.time)
    attempts: int = 0
    throttles: int = 0
    client_context: str | None = None
    trace_id: str | None = None

    @property
    def work_id(self) -> str:
        return self.request_id

    def encode(self) -> bytes:
        document = {**self.__dict__, "payload": base64.b64encode(self.payload).decode()}
        return json.dumps(document, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes) -> AsyncEvent:
        document = json.loads(body)
        document["payload"] = base64.b64decode(document["payload"])
        return cls(**document)


@dataclass
class Outcome:
    """How one attempt ended: ``ok``, ``function-error`` or ``throttled``."""

    kind: str
    status_code: int = 200
    payload: bytes = b""
    function_error: str | None = None
    executed_version: str | None = None
    error: AwsError | None = None


@dataclass(eq=False)
class WaitingEvent:
    """A throttled event waiting for a concurrency slot; its message stays leased, so ``kill -9`` loses nothing."""

    message: QueueMessage
    event: AsyncEvent
    throttle: Outcome  # the last throttle: what the failure record says if the event gets too old
    expires_at: float  # accepted_at + the maximum event age
    leased_at: float  # when the lease was last taken or renewed
    scope: str = ""  # the line it waits in (``concurrency.limit_scope``)
    probe: bool = False  # woken to see whether a slot is free, not by a release
    timer: asyncio.TimerHandle | None = None


# (event, outcome, reason) -> settle an event that will not be retried (destinations, DLQ);
# reason is "Success", "RetriesExhausted" or "EventAgeExceeded". It runs inside the
# transaction that removes the event, so a destination record is never lost nor doubled.
Finisher = Callable[[AsyncEvent, Outcome, str], None]
Runner = Callable[[AsyncEvent], Awaitable[Outcome]]
RetryPolicy = Callable[[AsyncEvent], tuple[int, float]]  # -> (maximum retries, maximum age seconds)


class AsyncInvoker(RetryingWorkQueue[AsyncEvent]):
    work_name = "asynchronous invocations"
    item_type = AsyncEvent
    item_name = "asynchronous event"

    def __init__(self, platform: Platform, run: Runner, finish: Finisher, policy: RetryPolicy) -> None:
        super().__init__(platform, QUEUE, MAX_WORKERS, 10, LEASE_S)
        self._run = run
        self._finish = finish
        self._policy = policy
        self._waiting: WaitingLines[WaitingEvent] = WaitingLines(self._resume)
        self._waiting_bytes = 0

    def accept(self, event: AsyncEvent) -> None:
        """Commit an event to the queue (durable when this returns) and wake the workers."""
        self.submit(event)
        self.wake()

    def concurrency_freed(self, scope: str) -> None:
        """An invocation gave back a slot of ``scope`` (``concurrency.limit_scope``): run the next waiting event."""
        self._waiting.freed(scope)

    def concurrency_changed(self, account: str, function: str) -> None:
        """A function's reserved concurrency was set or removed (``function``: ``concurrency.function_key``):
        probe the lines it may now draw from at once, rather than at the next periodic probe. A probe
        that runs wakes the next one, so the backlog climbs to the new limit."""
        self._waiting.freed(limit_scope(account, function, reserved=True), probe=True)
        self._waiting.freed(limit_scope(account, function, reserved=False), probe=True)

    async def stop(self) -> None:
        waiting = self._waiting.clear()
        for entry in waiting:
            if entry.timer is not None:
                entry.timer.cancel()
        await super().stop()
        for entry in waiting:  # visible again at once for whichever process runs the queue next
            self.store.change_visibility(self.queue, entry.message.receipt or "", 0)

    async def _process(self, message: QueueMessage) -> None:
        event = self._read(message)
        if event is not None:
            await self._attempt(message, event)

    async def _attempt(self, message: QueueMessage, event: AsyncEvent, waited: WaitingEvent | None = None) -> None:
        event.attempts += 1
        try:
            outcome = await self._run(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("asynchronous invocation %s failed inside the platform", event.request_id)
            outcome = Outcome("function-error", function_error="Unhandled")
        self._settle(message, event, outcome, waited)
        self.wake()
        if waited is not None and waited.probe and outcome.kind != "throttled":
            self._waiting.freed(waited.scope, probe=True)  # there was room: maybe for more (concurrency raised)

    def _settle(self, message: QueueMessage, event: AsyncEvent, outcome: Outcome,
                waited: WaitingEvent | None = None) -> None:
        max_retries, max_age = self._policy(event)
        # ``retry_delay_scale`` compresses the whole retry timeline: delays and the maximum age alike.
        max_age *= self.platform.settings.retry_delay_scale
        age = time.time() - event.accepted_at
        delay: float | None = None
        reason = "Success"
        if outcome.kind == "throttled":
            event.attempts -= 1  # a throttle is not an attempt
            event.throttles += 1
            reason = "EventAgeExceeded"
            if age < max_age and self._wait_for_concurrency(message, event, outcome, event.accepted_at + max_age,
                                                            waited):
                return
            low, high = THROTTLE_BACKOFF_S
            delay = min(high, low * 2 ** (event.throttles - 1)) * self.platform.settings.retry_delay_scale
        elif outcome.kind == "function-error":
            reason = "RetriesExhausted"
            if event.attempts <= max_retries:
                delay = RETRY_DELAYS_S[min(event.attempts - 1, len(RETRY_DELAYS_S) - 1)]
                delay *= self.platform.settings.retry_delay_scale
        if delay is not None and age + delay > max_age:
            delay, reason = None, "EventAgeExceeded"
        if delay is not None:
            self._retry_later(message, event, delay)
            return
        self._conclude(message, event, outcome, reason)

    def _conclude(self, message: QueueMessage, event: AsyncEvent, outcome: Outcome, reason: str) -> None:
        """Remove the event for good, handing it to the finisher (destinations, DLQ) in the same transaction."""
        with self._settling(message):
            try:
                self._finish(event, outcome, reason)
            except Exception:  # a broken destination must not keep the event alive forever
                log.exception("could not deliver the result of asynchronous invocation %s", event.request_id)

    # ------------------------------------------------------------ waiting for concurrency
    def _wait_for_concurrency(self, message: QueueMessage, event: AsyncEvent, throttle: Outcome,
                              expires_at: float, waited: WaitingEvent | None) -> bool:
        """Put a throttled event in the line of the concurrency it ran out of; False when too many
        payload bytes are waiting already (the event then backs off in the queue instead)."""
        size = len(message.body)
        if self._waiting_bytes + size > WAITING_BYTES_LIMIT:
            return False
        woken_before = waited is not None
        if waited is None:
            waited = WaitingEvent(message, event, throttle, expires_at, leased_at=time.time())
        else:
            waited.throttle, waited.expires_at = throttle, expires_at
        reason = ((throttle.error.fields if throttle.error else None) or {}).get("Reason")
        function = function_key(event.account, event.region, event.function)
        waited.scope = limit_scope(event.account, function, reserved=reason == RESERVED_EXCEEDED)
        self._waiting_bytes += size
        # a woken event that lost the race for the slot keeps its place at the front
        self._waiting.park(waited.scope, function, waited, first=woken_before)
        self._schedule_check(waited)
        return True

    def _schedule_check(self, entry: WaitingEvent) -> None:
        """Look at a waiting event again when it gets too old or its lease needs renewing."""
        due = min(entry.expires_at, entry.leased_at + self.lease_s / 2)
        entry.timer = asyncio.get_running_loop().call_later(max(0.0, due - time.time()), self._check, entry)

    def _check(self, entry: WaitingEvent) -> None:
        if time.time() >= entry.expires_at:
            self._leave_line(entry)
            self._conclude(entry.message, entry.event, entry.throttle, "EventAgeExceeded")
            self.wake()
        elif self._renew_lease(entry):
            self._schedule_check(entry)
        else:
            self._leave_line(entry)

    def _leave_line(self, entry: WaitingEvent) -> None:
        self._waiting.remove(entry)
        self._waiting_bytes -= len(entry.message.body)

    def _resume(self, entry: WaitingEvent, probe: bool) -> None:
        """A slot freed up for a waiting event (called as the slot is released): run it in a task of its own."""
        entry.probe = probe
        if entry.timer is not None:
            entry.timer.cancel()
        self._waiting_bytes -= len(entry.message.body)
        task = asyncio.get_running_loop().create_task(self._run_woken(entry))
        self._active.add(task)
        task.add_done_callback(self._active.discard)

    async def _run_woken(self, entry: WaitingEvent) -> None:
        if time.time() >= entry.expires_at:  # got too old since it was last looked at
            self._conclude(entry.message, entry.event, entry.throttle, "EventAgeExceeded")
            self.wake()
        elif time.time() - entry.leased_at <= LEASE_REFRESH_S or self._renew_lease(entry):
            await self._attempt(entry.message, entry.event, entry)

    def _renew_lease(self, entry: WaitingEvent) -> bool:
        """Extend a waiting event's lease; False (and forget it) if the lease was lost meanwhile."""
        if self.store.change_visibility(self.queue, entry.message.receipt or "", self.lease_s):
            entry.leased_at = time.time()
            return True
        log.warning("asynchronous event %s lost its lease while waiting for concurrency", entry.event.request_id)
        return False
