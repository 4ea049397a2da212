"""A DynamoDB stream as a pipe source: records in order, a checkpoint in the store, retries.

The poller reads the stream (``platform.streams``) after its checkpoint, ``BatchSize`` records
at a time (waiting up to ``MaximumBatchingWindowInSeconds`` for a fuller batch), skips the ones
the filters reject, and hands the rest to the pipe as ``{"Records": [...]}`` in Lambda's
DynamoDB record shape. Its checkpoint (the last sequence number handled) is committed in the
store after each batch, so a restarted server resumes there; a new pipe starts at
``StartingPosition`` (``TRIM_HORIZON``: the oldest record held; ``LATEST``: after the newest).

A failed batch is retried, in order, up to ``MaximumRetryAttempts`` (-1, the default: until
``MaximumRecordAgeInSeconds`` passes, or forever). A target naming ``batchItemFailures`` (by
sequence number) has the checkpoint set just before the first failed record, as AWS does.
With ``OnPartialBatchItemFailure: AUTOMATIC_BISECT`` a failed batch is split in two and each
half retried. A batch that runs out of retries is skipped; when ``DeadLetterConfig`` names an
SQS queue or SNS topic, a description of it (shard, sequence range, reason) is sent there first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from cumulo.arns import parse_arn
from cumulo.patterns.esm import FilterCriteria
from cumulo.targets.errors import TargetError
from cumulo.targets.send import Delivery, send

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from cumulo.platform import Platform

log = logging.getLogger("cumulo.pipes")
CHECKPOINTS = "pipes.checkpoints"
IDLE_S = 0.2


def sequence_of(record: dict[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber") or "")


class DynamoDbStreamPoller:
    def __init__(self, platform: Platform, settings: dict[str, Any],
                 process: Callable[[dict[str, Any], bytes], Awaitable[tuple[bool, bytes]]]) -> None:
        self.platform = platform
        self.settings = settings
        self.process = process
        self.parameters = settings.get("DynamoDBStreamParameters") or {}
        stream = parse_arn(settings["EventSourceArn"])
        assert stream is not None
        self.account, self.region, self.arn = stream.account, stream.region, settings["EventSourceArn"]
        filters = (settings.get("FilterCriteria") or {}).get("Filters") or []
        self.filters = FilterCriteria([f["Pattern"] for f in filters]) if filters else None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"pipe {self.settings['UUID']}")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.task = None

    # ------------------------------------------------------------ checkpoint
    def _checkpoint(self) -> str | None:
        saved = self.platform.store.get(CHECKPOINTS, self.settings["UUID"])
        if saved is not None:
            return saved["after"]
        after = None
        if self.parameters.get("StartingPosition") == "LATEST":
            after = self.platform.streams.latest_sequence(self.account, self.region, self.arn)
        self._save(after)
        return after

    def _save(self, after: str | None) -> None:
        self.platform.store.put(CHECKPOINTS, self.settings["UUID"], {"after": after})

    # ------------------------------------------------------------ polling
    async def _run(self) -> None:
        after = self._checkpoint()
        while True:
            try:
                batch = await self._gather(after)
                if not batch:
                    await asyncio.sleep(IDLE_S)
                    continue
                after = await self._handle(batch, after)
                self._save(after)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pipe %s: stream poller failed; retrying", self.settings["UUID"])
                await asyncio.sleep(1.0)

    async def _gather(self, after: str | None) -> list[dict[str, Any]]:
        size = self.parameters.get("BatchSize") or 100
        window = self.parameters.get("MaximumBatchingWindowInSeconds") or 0
        deadline = time.monotonic() + window
        batch: list[dict[str, Any]] = []
        while True:
            records = self.platform.streams.read_stream(self.account, self.region, self.arn,
                                                        sequence_of(batch[-1]) if batch else after, size - len(batch))
            batch += [dict(r, eventSourceARN=self.arn) for r in records or []]
            if len(batch) >= size or time.monotonic() >= deadline or (not batch and not window):
                return batch
            await asyncio.sleep(min(IDLE_S, max(0.0, deadline - time.monotonic())))

    async def _handle(self, batch: list[dict[str, Any]], after: str | None) -> str | None:
        """Deliver a batch (retrying as configured); the new checkpoint."""
        last = sequence_of(batch[-1])
        kept = [r for r in batch if self.filters.matches(r)] if self.filters is not None else batch
        undelivered = await self._deliver(kept) if kept else []
        if undelivered:
            await self._dead_letter(undelivered, "RetryAttemptsExhausted")
        return last

    async def _deliver(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Deliver within the retry settings; the records that did not get through (from the first failure on)."""
        retries = self.parameters.get("MaximumRetryAttempts", -1)
        max_age = self.parameters.get("MaximumRecordAgeInSeconds", -1)
        bisect = self.parameters.get("OnPartialBatchItemFailure") == "AUTOMATIC_BISECT"
        pending, attempt = records, 0
        while pending:
            ok, payload = await self.process(self.settings, json.dumps({"Records": pending}).encode())
            failed = _failed_ids(payload) if ok else {sequence_of(r) for r in pending}
            if not failed:
                return []
            first = next((i for i, r in enumerate(pending) if sequence_of(r) in failed), 0)
            pending = pending[first:]
            attempt += 1
            if bisect and len(pending) > 1:
                half = len(pending) // 2
                first_half = await self._deliver(pending[:half])
                return first_half + pending[half:] if first_half else await self._deliver(pending[half:])
            if 0 <= retries < attempt or _too_old(pending[0], max_age):
                return pending
            await asyncio.sleep(min(2 ** attempt * 0.1, 5.0))
        return []

    async def _dead_letter(self, records: list[dict[str, Any]], reason: str) -> None:
        target = ((self.parameters.get("DeadLetterConfig") or {}).get("Arn"))
        if not target:
            log.warning("pipe %s: dropped %d records (%s)", self.settings["UUID"], len(records), reason)
            return
        body = json.dumps({"requestContext": {"condition": reason, "approximateInvokeCount": 1},
                           "DDBStreamBatchInfo": {"startSequenceNumber": sequence_of(records[0]),
                                                  "endSequenceNumber": sequence_of(records[-1]),
                                                  "batchSize": len(records), "streamArn": self.arn}})
        try:
            await send(self.platform, target, body, Delivery(account=self.account, region=self.region))
        except TargetError as error:
            log.warning("pipe %s: dead-letter delivery failed: %s", self.settings["UUID"], error.message)


def _failed_ids(payload: bytes) -> set[str]:
    try:
        answer = json.loads(payload) if payload else {}
    except ValueError:
        return set()
    return {str(item.get("itemIdentifier")) for item in (answer or {}).get("batchItemFailures") or []
            if isinstance(item, dict)}


def _too_old(record: dict[str, Any], max_age: int) -> bool:
    created = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    return max_age >= 0 and isinstance(created, int | float) and time.time() - created > max_age
