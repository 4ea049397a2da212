"""Asynchronous invocation: a durable queue of accepted events and the workers that run them.

``accept`` commits the event to the store before the caller answers 202, so an accepted
event survives ``kill -9``: on start-up, events that a dead process had leased are made
visible again and run (at least once, as AWS promises). Workers lease events, run them
through the function runner and settle each one:

* success: the event is done;
* function error: retried after about 1 then 2 minutes (``retry_delay_scale`` shrinks this
  for tests), up to the retry limit (2 by default);
* throttled: retried with backoff until the maximum event age (6 hours by default);
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
THROTTLE_BACKOFF_S = (1.0, 300.0)


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

    def accept(self, event: AsyncEvent) -> None:
        """Commit an event to the queue (durable when this returns) and wake the workers."""
        self.submit(event)
        self.wake()

    async def _process(self, message: QueueMessage) -> None:
        event = self._read(message)
        if event is None:
            return
        event.attempts += 1
        try:
            outcome = await self._run(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("asynchronous invocation %s failed inside the platform", event.request_id)
            outcome = Outcome("function-error", function_error="Unhandled")
        self._settle(message, event, outcome)
        self.wake()

    def _settle(self, message: QueueMessage, event: AsyncEvent, outcome: Outcome) -> None:
        max_retries, max_age = self._policy(event)
        # ``retry_delay_scale`` compresses the whole retry timeline: delays and the maximum age alike.
        max_age *= self.platform.settings.retry_delay_scale
        age = time.time() - event.accepted_at
        delay: float | None = None
        reason = "Success"
        if outcome.kind == "throttled":
            event.attempts -= 1  # a throttle is not an attempt
            event.throttles += 1
            low, high = THROTTLE_BACKOFF_S
            delay = min(high, low * 2 ** (event.throttles - 1)) * self.platform.settings.retry_delay_scale
            reason = "EventAgeExceeded"
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
        with self._settling(message):
            try:
                self._finish(event, outcome, reason)
            except Exception:  # a broken destination must not keep the event alive forever
                log.exception("could not deliver the result of asynchronous invocation %s", event.request_id)
