"""Durable, at-least-once delivery to targets, with AWS's retry policy and dead-letter queues.

Used by EventBridge (one job per matched rule target) and EventBridge Scheduler (one job per
schedule invocation); the jobs' targets are reached through ``targets.send``. A job is
committed to a store queue before the API call that created it returns (or together with the
schedule state that fired it), so an accepted event survives ``kill -9``; workers lease jobs
and invoke the target:

* success: the job is deleted;
* a retryable failure (throttling, a target service unavailable, an error from the target):
  the job is re-queued with exponential backoff and jitter (1 s doubling up to 5 minutes;
  AWS documents "exponential back off and jitter" without constants) until
  ``RetryPolicy.MaximumRetryAttempts`` (default 185) or ``MaximumEventAgeInSeconds``
  (default 86,400) is exhausted. A retry is a new queue entry committed together with the
  removal of the old one;
* a failure that cannot succeed (target not found, no permission, invalid request) or an
  exhausted policy: the job goes to ``DeadLetterConfig.Arn`` (an SQS queue) with AWS's
  message attributes (``targets.dead_letters``), or is dropped when there is none.

Settings: ``events_retry_time_scale`` multiplies the backoff delays and the maximum event age
(0.001 turns a 1-second backoff into 1 ms and a 60-second age into 60 ms); ``events_delivery_workers``
is the number of concurrent deliveries per service (0 accepts and stores jobs without delivering
them, for maintenance and durability tests).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cumulo.store.base import QueueMessage
from cumulo.targets.dead_letters import send_to_dead_letter_queue
from cumulo.targets.errors import TargetError
from cumulo.targets.retrying import RetryingWorkQueue
from cumulo.targets.send import BusEvent, Delivery

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.events")
LEASE_S = 120.0
BATCH = 50
DEFAULT_RETRY_ATTEMPTS = 185
DEFAULT_MAX_AGE_S = 86_400
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0


@dataclass
class Job:
    account: str
    region: str
    origin: str  # the rule or schedule ARN
    target: dict[str, Any]  # the target configuration (Id, Arn, RetryPolicy, DeadLetterConfig, ...)
    payload: str  # what the target receives
    event: str | None = None  # the original event as JSON text, when the payload is something else
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    accepted: float = field(default_factory=time.time)
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def work_id(self) -> str:
        return self.id

    def encode(self) -> bytes:
        return json.dumps({"account": self.account, "region": self.region, "origin": self.origin,
                           "target": self.target, "payload": self.payload, "event": self.event, "id": self.id,
                           "accepted": self.accepted, "attempts": self.attempts, "extra": self.extra},
                          separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def decode(cls, body: bytes) -> Job:
        return cls(**json.loads(body))

    @property
    def retry_policy(self) -> tuple[int, float]:
        policy = self.target.get("RetryPolicy") or {}
        attempts = policy.get("MaximumRetryAttempts")
        age = policy.get("MaximumEventAgeInSeconds")
        return (DEFAULT_RETRY_ATTEMPTS if attempts is None else attempts,
                DEFAULT_MAX_AGE_S if age is None else age)

    @property
    def dead_letter_arn(self) -> str | None:
        return (self.target.get("DeadLetterConfig") or {}).get("Arn")


def target_delivery(job: Job, event_id: str, *, trace_header: str | None = None, event_time: str | None = None,
                    bus_event: BusEvent | None = None) -> Delivery:
    """What a job sends along to its target: FIFO ids (``SqsParameters``; the event or invocation
    id deduplicates), the trace header, the log stream (named after the event), a bus event."""
    group = (job.target.get("SqsParameters") or {}).get("MessageGroupId")
    return Delivery(account=job.account, region=job.region, group_id=group, dedup_id=event_id if group else None,
                    trace_header=trace_header, log_stream=event_id, event_time=event_time, bus_event=bus_event,
                    http_parameters=job.target.get("HttpParameters"))


Sender = Callable[[Job], Awaitable[None]]
# Delivers a job synchronously inside the queue's store transaction when it can (SQS, Logs):
# returns False to leave the job to the asynchronous sender.
SyncSender = Callable[[Job], bool]
# (job, error, exhausted condition or None) -> (DLQ message body, message attributes)
DeadLetterFormat = Callable[[Job, TargetError, str | None], tuple[str, dict[str, str]]]
# (job, outcome) where outcome is "delivered", "failed", "dead-lettered", "dead-letter-failed", "retry"
Observer = Callable[[Job, str], None]


def backoff(attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1-based): exponential with jitter."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(attempt - 1, 20))
    return random.uniform(ceiling / 2, ceiling)


class DeliveryQueue(RetryingWorkQueue[Job]):
    work_name = "deliveries"
    item_type = Job
    item_name = "delivery"

    def __init__(self, platform: Platform, queue: str, send: Sender, dead_letter: DeadLetterFormat,
                 observe: Observer | None = None, send_sync: SyncSender | None = None) -> None:
        settings = platform.settings
        super().__init__(platform, queue, int(getattr(settings, "events_delivery_workers", 32)), BATCH, LEASE_S)
        self._send = send
        self._send_sync = send_sync
        self._dead_letter = dead_letter
        self._observe = observe or (lambda job, outcome: None)
        self.scale = float(getattr(settings, "events_retry_time_scale", 1.0))

    # ------------------------------------------------------------ workers
    def _before_tasks(self, messages: list[QueueMessage]) -> list[QueueMessage]:
        return self._deliver_batch(messages) if self._send_sync else messages

    def _deliver_batch(self, messages: list[QueueMessage]) -> list[QueueMessage]:
        """Deliver what can be delivered synchronously (SQS) in one transaction with the jobs' removal.

        A synchronous target refuses a message before writing anything, so one refusal does not
        undo the others. Returns the messages left for the asynchronous path.
        """
        left: list[QueueMessage] = []
        done: list[Job] = []
        failed: list[tuple[QueueMessage, Job, TargetError]] = []
        if not messages:
            return left
        assert self._send_sync is not None
        with self.store.transaction():
            for message in messages:
                try:
                    job = Job.decode(message.body)
                except (ValueError, TypeError, KeyError):
                    left.append(message)  # the asynchronous path drops it with a log line
                    continue
                job.attempts += 1
                try:
                    handled = self._send_sync(job)
                except TargetError as failure:
                    failed.append((message, job, failure))
                    continue
                if handled:
                    self._remove(message)
                    done.append(job)
                else:
                    left.append(message)
        for job in done:
            self._observe(job, "delivered")
        for message, job, failure in failed:
            self._settle(message, job, failure)
        if done or failed:
            self.wake()
        return left

    async def _process(self, message: QueueMessage) -> None:
        job = self._read(message)
        if job is None:
            return
        job.attempts += 1
        try:
            await self._send(job)
            error: TargetError | None = None
        except asyncio.CancelledError:
            raise
        except TargetError as failure:
            error = failure
        except Exception as exc:  # a bug in a target call: report it as the target's internal error
            log.exception("delivery %s to %s failed inside the platform", job.id, job.target.get("Arn"))
            error = TargetError("INTERNAL_ERROR", str(exc) or type(exc).__name__)
        self._settle(message, job, error)
        self.wake()

    def _settle(self, message: QueueMessage, job: Job, error: TargetError | None) -> None:
        if error is None:
            self._remove(message)
            self._observe(job, "delivered")
            return
        max_retries, max_age = job.retry_policy
        exhausted: str | None = None
        delay = 0.0
        if error.retryable:
            retries_done = job.attempts - 1
            delay = backoff(job.attempts) * self.scale
            if retries_done >= max_retries:
                exhausted = "MaximumRetryAttemptsExhausted"
            elif time.time() + delay - job.accepted > max_age * self.scale:
                exhausted = "MaximumEventAgeExhausted"
        if error.retryable and exhausted is None:
            log.debug("delivery %s to %s failed (%s), retry %d in %.3fs", job.id, job.target.get("Arn"), error,
                      job.attempts, delay)
            self._retry_later(message, job, delay)
            self._observe(job, "retry")
            return
        log.info("delivery %s to %s failed for good (%s)", job.id, job.target.get("Arn"), error)
        with self._settling(message):
            outcome = self._to_dead_letter_queue(job, error, exhausted)
        self._observe(job, "failed")
        if outcome:
            self._observe(job, outcome)

    def _to_dead_letter_queue(self, job: Job, error: TargetError, exhausted: str | None) -> str | None:
        arn = job.dead_letter_arn
        if not arn:
            return None
        body, attributes = self._dead_letter(job, error, exhausted)
        sent = send_to_dead_letter_queue(self.platform, arn, body, attributes, job.account, job.region)
        return "dead-lettered" if sent else "dead-letter-failed"
