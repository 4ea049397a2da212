"""The SQS poller of an event source mapping: batches from a queue, into a function, and back.

Each enabled mapping runs one poller task per concurrent batch slot (``ScalingConfig.
MaximumConcurrency``, default 5; one for FIFO queues, which keeps every message group in
order). A poller long-polls the queue through the SQS service, gathers up to ``BatchSize``
messages within ``MaximumBatchingWindowInSeconds``, drops (deletes) the ones the filter
criteria reject as AWS does, invokes the function synchronously with AWS's ``Records`` event,
and deletes what succeeded. Failed messages are left alone: they reappear after the queue's
visibility timeout and follow its redrive policy. With ``ReportBatchItemFailures`` only the
messages the function names in ``batchItemFailures`` are kept.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from cumulo.arns import split_arn
from cumulo.patterns.esm import FilterCriteria
from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext

if TYPE_CHECKING:
    from cumulo.platform import Platform
    from cumulo.services.interfaces import QueueSink

log = logging.getLogger("cumulo.eventsources")
DEFAULT_CONCURRENCY = 5
LONG_POLL_S = 5
IDLE_BACKOFF_S = 1.0


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A received SQS message in the shape Lambda passes it (``Records[]``)."""
    attributes = {k: v for k, v in (message.get("Attributes") or {}).items()}
    record: dict[str, Any] = {
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
        "attributes": attributes, "messageAttributes": {
            name: {"stringValue": value.get("StringValue"), "binaryValue": value.get("BinaryValue"),
                   "stringListValues": value.get("StringListValues") or [],
                   "binaryListValues": value.get("BinaryListValues") or [], "dataType": value["DataType"]}
            for name, value in (message.get("MessageAttributes") or {}).items()},
        "md5OfBody": message["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    for entry in record["messageAttributes"].values():
        for key in ("stringValue", "binaryValue"):
            if entry[key] is None:
                del entry[key]
            elif isinstance(entry[key], bytes):
                entry[key] = base64.b64encode(entry[key]).decode()
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


class SqsPoller:
    def __init__(self, platform: Platform, mapping: dict[str, Any], invoke: Any) -> None:
        self.platform = platform
        self.mapping = mapping
        self.invoke = invoke  # async (mapping, event bytes) -> (ok, payload bytes) or raises AwsError
        queue = split_arn(mapping["EventSourceArn"])
        assert queue is not None, mapping["EventSourceArn"]
        self.region, self.account, self.queue_name = queue.region, queue.account, queue.resource
        self.filters = FilterCriteria(
            [f["Pattern"] for f in (mapping.get("FilterCriteria") or {}).get("Filters") or []]) \
            if (mapping.get("FilterCriteria") or {}).get("Filters") else None
        self.tasks: list[asyncio.Task[None]] = []

    @property
    def queue_url(self) -> str:
        return f"{self.platform.settings.endpoint_url}/{self.account}/{self.queue_name}"

    def _context(self, operation: str) -> RequestContext:
        return RequestContext.internal(self.platform, "sqs", operation, self.account, self.region)

    def start(self) -> None:
        fifo = self.queue_name.endswith(".fifo")
        slots = 1 if fifo else (self.mapping.get("ScalingConfig") or {}).get("MaximumConcurrency",
                                                                            DEFAULT_CONCURRENCY)
        self.tasks = [asyncio.get_running_loop().create_task(self._run(), name=f"esm {self.mapping['UUID']}")
                      for _ in range(slots)]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks = []

    async def _run(self) -> None:
        sqs = self.platform.queues
        while True:
            try:
                batch = await self._gather(sqs)
                if batch:
                    await self._process(sqs, batch)
            except asyncio.CancelledError:
                raise
            except AwsError as error:
                log.warning("event source mapping %s: %s", self.mapping["UUID"], error.message)
                await asyncio.sleep(IDLE_BACKOFF_S)
            except Exception:
                log.exception("event source mapping %s failed; retrying", self.mapping["UUID"])
                await asyncio.sleep(IDLE_BACKOFF_S)

    async def _gather(self, sqs: QueueSink) -> list[dict[str, Any]]:
        size = self.mapping.get("BatchSize") or 10
        window = self.mapping.get("MaximumBatchingWindowInSeconds") or 0
        deadline = 0.0  # the window opens when the first message arrives
        batch: list[dict[str, Any]] = []
        while len(batch) < size:
            remaining = deadline - time.monotonic()
            wait = LONG_POLL_S if not batch else max(0, min(LONG_POLL_S, int(remaining + 0.999)))
            received = await sqs.receive_message(self._context("ReceiveMessage"), {
                "QueueUrl": self.queue_url, "MaxNumberOfMessages": min(10, size - len(batch)),
                "WaitTimeSeconds": wait, "MessageAttributeNames": ["All"],
                "MessageSystemAttributeNames": ["All"], "AttributeNames": ["All"]})
            messages = received.get("Messages") or []
            if messages and not batch:
                deadline = time.monotonic() + window
                remaining = window
            batch += messages
            if not messages and (batch or window == 0):
                break
            if remaining <= 0 and batch:
                break
        return batch

    async def _process(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        queue_arn = self.mapping["EventSourceArn"]
        records = [sqs_record(m, queue_arn, self.region) for m in messages]
        if self.filters is not None:
            kept = [r for r in records if self.filters.matches(r)]
            dropped = [r for r in records if r not in kept]
            self._delete(sqs, dropped)  # messages the filters reject are deleted, as on AWS
            records = kept
        if not records:
            return
        event = json.dumps({"Records": records}).encode()
        try:
            ok, payload = await self.invoke(self.mapping, event)
        except AwsError as error:
            log.info("event source mapping %s: invoke failed: %s", self.mapping["UUID"], error.message)
            return  # throttled or missing: the messages come back after their visibility timeout
        if not ok:
            return
        failed = self._reported_failures(payload, records)
        if failed is None:
            return  # an invalid partial-batch response fails the whole batch
        self._delete(sqs, [r for r in records if r["messageId"] not in failed])

    def _reported_failures(self, payload: bytes, records: list[dict[str, Any]]) -> set[str] | None:
        if "ReportBatchItemFailures" not in (self.mapping.get("FunctionResponseTypes") or []):
            return set()
        try:
            response = json.loads(payload) if payload else None
        except ValueError:
            return None
        if not response:
            return set()
        if not isinstance(response, dict) or not isinstance(response.get("batchItemFailures", []), list):
            return None
        ids = {r["messageId"] for r in records}
        failures = set()
        for item in response.get("batchItemFailures") or []:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or identifier not in ids:
                return None
            failures.add(identifier)
        return failures

    def _delete(self, sqs: Any, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start:start + 10]
            sqs.delete_message_batch(self._context("DeleteMessageBatch"), {
                "QueueUrl": self.queue_url,
                "Entries": [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)]})
