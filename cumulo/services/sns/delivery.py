"""The durable delivery queue of SNS and its dispatcher.

Publish commits one work item per (message, HTTP/S or Lambda subscription) into the store
queue ``sns/deliveries`` in the same transaction that acknowledges it; SQS subscriptions are
delivered inside that transaction directly. A background dispatcher leases items (a short
lease, extended while an attempt runs, so a crashed node's items come back within seconds),
attempts the delivery and then deletes the item, schedules its retry with the subscription's
retry policy (the item's visibility becomes the delay), or — once the policy is exhausted or
the failure is the client's — moves the message to the subscription's dead-letter queue.

At least once: a delivery interrupted by ``kill -9`` is attempted again after restart.

**Lambda subscriptions** are delivered through ``cumulo.targets`` (an ``Event`` invocation,
which commits the event to Lambda's own asynchronous queue and returns: AWS invokes SNS
subscribers asynchronously, and Lambda then retries failed functions itself). A missing
function (``NO_RESOURCE``) is a client error: no retry, straight to the subscription's
dead-letter queue. Anything else (throttling, an invoke path that is not ready) is retried with
AWS's policy for AWS-managed endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.arns import split_arn
from cumulo.services.sns import http
from cumulo.services.sns import messages as fmt
from cumulo.services.sns.policies import retry_delay
from cumulo.store.base import QueueMessage
from cumulo.targets.errors import TargetError
from cumulo.targets.send import Delivery, send

if TYPE_CHECKING:
    from cumulo.services.sns.provider import SnsProvider

log = logging.getLogger("cumulo.sns.delivery")
QUEUE = "sns/deliveries"
CHANNEL = f"store:{QUEUE}"
LEASE_S = 3.0
HEARTBEAT_S = 1.0
IDLE_S = 5.0
CONCURRENCY = 32


class Retry(Exception):
    """A failure the retry policy applies to (server errors, timeouts, throttling)."""


class GiveUp(Exception):
    """A client-side failure: no retry, the message goes to the dead-letter queue."""


class Deliveries:
    def __init__(self, provider: SnsProvider) -> None:
        self.provider = provider
        self.platform = provider.platform
        self.store = provider.platform.store
        self._loop_task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self.attempts = 0  # delivery attempts made by this process (tests and diagnostics)

    # ------------------------------------------------------------ producing
    def enqueue(self, item: dict[str, Any]) -> None:
        """Add a delivery (joins the caller's transaction); call ``wake`` after the commit."""
        self.store.enqueue(QUEUE, json.dumps(item, separators=(",", ":")).encode(), message_id=str(uuid.uuid4()))

    def wake(self) -> None:
        self.platform.notifier.notify(CHANNEL)

    # ------------------------------------------------------------ the dispatcher
    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._running) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self) -> None:
        while True:
            free = CONCURRENCY - len(self._running)
            if free <= 0:
                await asyncio.wait(set(self._running), return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                leased = self.store.receive(QUEUE, min(10, free), LEASE_S)
            except Exception:
                log.exception("SNS dispatcher could not read its queue")
                await asyncio.sleep(1.0)
                continue
            if not leased:
                now = time.time()
                next_at = self.store.next_visible_at(QUEUE, after=now)
                timeout = IDLE_S if next_at is None else min(IDLE_S, max(0.0, next_at - now) + 0.001)
                await self.platform.notifier.wait(CHANNEL, timeout)
                continue
            for message in leased:
                task = asyncio.create_task(self._attempt(message))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def _attempt(self, message: QueueMessage) -> None:
        item = json.loads(message.body)
        heartbeat = asyncio.create_task(self._heartbeat(message))
        self.attempts += 1
        try:
            await self._send(item)
        except GiveUp as failure:
            log.info("SNS delivery to %s failed for good: %s", item["endpoint"], failure)
            self._finish(message, item, dead_letter=str(failure))
        except Exception as failure:  # every other failure is retried
            delay = retry_delay(item["policy"], message.receive_count)
            if delay is None:
                log.info("SNS delivery to %s failed after %d attempts: %s", item["endpoint"],
                         message.receive_count, failure)
                self._finish(message, item, dead_letter=str(failure))
            else:
                scaled = delay * self.platform.settings.sns_retry_delay_scale
                log.debug("SNS delivery to %s failed (%s); retry in %.2fs", item["endpoint"], failure, scaled)
                self.store.change_visibility(QUEUE, message.receipt or "", scaled)
                self.wake()
        else:
            self._finish(message, item)
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, message: QueueMessage) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            self.store.change_visibility(QUEUE, message.receipt or "", LEASE_S)

    def _finish(self, message: QueueMessage, item: dict[str, Any], dead_letter: str | None = None) -> None:
        with self.store.transaction():
            if dead_letter is not None and item.get("dlq") and item["kind"] == "Notification":
                self.provider.dead_letter(item["dlq"], self._dead_letter_body(item), item["msg"], item.get("raw"))
            self.store.delete_message(QUEUE, message.receipt or "")

    # ------------------------------------------------------------ sending
    async def _send(self, item: dict[str, Any]) -> None:
        protocol = item["protocol"]
        if protocol in ("http", "https"):
            await self._send_http(item)
        elif protocol == "lambda":
            await self._send_lambda(item)
        else:
            raise GiveUp(f"protocol {protocol} is not delivered by Cumulo")

    def _http_body(self, item: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        signer = self.provider.signer
        kind = item["kind"]
        headers = {"x-amz-sns-message-type": kind, "x-amz-sns-topic-arn": item["topic"],
                   "Content-Type": item.get("content_type") or "text/plain; charset=UTF-8"}
        if kind == "Notification":
            message = item["msg"]
            headers["x-amz-sns-message-id"] = message["id"]
            headers["x-amz-sns-subscription-arn"] = item["sub"]
            if item.get("raw"):
                headers["x-amz-sns-rawdelivery"] = "true"
                return message["body"].encode(), headers
            document = fmt.notification(message, item["sub"], item["base"], signer, item.get("sigv", "1"))
        else:
            headers["x-amz-sns-message-id"] = item["id"]
            if kind == "UnsubscribeConfirmation":
                headers["x-amz-sns-subscription-arn"] = item["sub"]
            document = fmt.confirmation(kind, item["id"], item["topic"], item["sub"], item["token"], item["ts"],
                                        item["base"], signer, item.get("sigv", "1"))
        return fmt.dumps(document).encode(), headers

    async def _send_http(self, item: dict[str, Any]) -> None:
        body, headers = self._http_body(item)
        status = await http.post(item["endpoint"], body, headers)
        if 200 <= status < 300:
            return
        if 400 <= status < 500 and status != 429:
            raise GiveUp(f"the endpoint answered HTTP {status}")
        raise Retry(f"the endpoint answered HTTP {status}")

    async def _send_lambda(self, item: dict[str, Any]) -> None:
        event = fmt.lambda_event(item["msg"], item["sub"], item["base"], self.provider.signer)
        function = split_arn(item["endpoint"])
        assert function is not None, item["endpoint"]
        try:
            await send(self.platform, item["endpoint"], json.dumps(event),
                       Delivery(account=function.account, region=function.region))
        except TargetError as failure:
            if failure.code == "NO_RESOURCE":  # no such function: a client error
                raise GiveUp(str(failure)) from failure
            raise

    def _dead_letter_body(self, item: dict[str, Any]) -> str:
        message = item["msg"]
        if item.get("raw"):
            return message["body"]
        return fmt.dumps(fmt.notification(message, item["sub"], item["base"], self.provider.signer,
                                          item.get("sigv", "1")))
