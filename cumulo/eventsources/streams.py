"""The stream poller of an event source mapping (Kinesis and DynamoDB Streams).

Each shard is read in order by one task, which starts once the shard's parents are fully
processed (resharding keeps order). A batch holds up to ``BatchSize`` records gathered within
``MaximumBatchingWindowInSeconds``; records the filter criteria reject are skipped. A shard's
batches never overlap: the next is read only once the current one succeeded or was given up.

On a function error the batch is retried (``MaximumRetryAttempts``, -1 without end, with
backoff), split in halves first with ``BisectBatchOnFunctionError``; records older than
``MaximumRecordAgeInSeconds`` are given up. With ``ReportBatchItemFailures`` the checkpoint
moves to just before the lowest failed sequence number and the rest is retried. A batch
given up goes, as AWS's invocation record, to ``DestinationConfig.OnFailure``. With a
``ParallelizationFactor`` above 1, up to that many batches of a shard run at once, a partition
key's records always in the same lane and in order.

Checkpoints (the last sequence number handled per shard) are committed to the store after
each batch, so after kill -9 a mapping resumes where it was (at least once, never a gap).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.arns import split_arn
from cumulo.eventsources.stream_sources import StreamEntry, source_for
from cumulo.eventsources.windows import tumble
from cumulo.patterns.esm import FilterCriteria
from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.targets.send import Delivery, send

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.eventsources")
CHECKPOINTS = "lambda.esm.checkpoints"
IDLE_POLL_S = 0.2
WAKE_TIMEOUT_S = 1.0  # a source with write hints (Kinesis) is still re-read this often
SHARD_SCAN_S = 1.0
MAX_BACKOFF_S = 30.0


def checkpoint_key(mapping_id: str, shard: str) -> str:
    return f"{mapping_id}/{shard}"


class StreamPoller:
    def __init__(self, platform: Platform, mapping: dict[str, Any], invoke: Any) -> None:
        self.platform = platform
        self.mapping = mapping
        self.invoke = invoke  # async (mapping, event bytes) -> (ok, payload bytes) or raises AwsError
        self.source = source_for(platform, mapping["EventSourceArn"])
        filters = (mapping.get("FilterCriteria") or {}).get("Filters") or []
        self.filters = FilterCriteria([f["Pattern"] for f in filters]) if filters else None
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.main: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Fix the starting positions of the current shards now (a LATEST mapping reported Enabled
        gets every record written after), then keep watching for shards."""
        try:
            self._start_ready_shards()
        except Exception:
            log.exception("event source mapping %s: listing shards failed", self.mapping["UUID"])
        self.main = asyncio.get_running_loop().create_task(self._watch(), name=f"esm {self.mapping['UUID']}")

    async def stop(self) -> None:
        tasks = [*self.tasks.values(), *([self.main] if self.main else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks, self.main = {}, None

    # ------------------------------------------------------------- shards
    async def _watch(self) -> None:
        """Start a task per shard whose parents are done; look again for new shards now and then."""
        while True:
            try:
                self._start_ready_shards()
            except Exception:
                log.exception("event source mapping %s: listing shards failed", self.mapping["UUID"])
            await asyncio.sleep(SHARD_SCAN_S)

    def _start_ready_shards(self) -> None:
        shards = self.source.shards() or []
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self.tasks:
                continue
            parents = [p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p]
            known = {s["ShardId"] for s in shards}
            if any(p in known and not self.checkpoint(p).get("done") for p in parents):
                continue
            if self.checkpoint(shard_id).get("done"):
                continue
            self._initial_checkpoint(shard_id, from_parent=bool(parents))
            self.tasks[shard_id] = asyncio.get_running_loop().create_task(
                self._run_shard(shard_id, bool(shard.get("Closed"))), name=f"esm {self.mapping['UUID']} {shard_id}")

    def checkpoint(self, shard: str) -> dict[str, Any]:
        return self.platform.store.get(CHECKPOINTS, checkpoint_key(self.mapping["UUID"], shard)) or {}

    def _initial_checkpoint(self, shard: str, from_parent: bool) -> None:
        """A shard first seen starts where StartingPosition says (children of a read parent: at their start)."""
        if self.checkpoint(shard):
            return
        start = self.mapping.get("StartingPosition", "LATEST")
        after: str | None = None
        if not from_parent and start == "LATEST":
            after = self.source.position(shard, None)
        elif not from_parent and start == "AT_TIMESTAMP":
            after = self.source.position(shard, float(self.mapping.get("StartingPositionTimestamp") or 0))
        self.platform.store.insert(CHECKPOINTS, checkpoint_key(self.mapping["UUID"], shard), {"after": after})

    def save(self, shard: str, point: dict[str, Any]) -> None:
        """Commit a shard's checkpoint (``after``, and a tumbling window's ``window`` and ``state``)."""
        self.platform.store.put(CHECKPOINTS, checkpoint_key(self.mapping["UUID"], shard), point)

    def _save(self, shard: str, after: str | None, done: bool = False) -> None:
        self.platform.store.put(CHECKPOINTS, checkpoint_key(self.mapping["UUID"], shard),
                                {"after": after, **({"done": True} if done else {})})

    # -------------------------------------------------------------- batches
    async def _run_shard(self, shard: str, closed: bool) -> None:
        while True:
            try:
                if self.mapping.get("TumblingWindowInSeconds"):
                    if not await tumble(self, shard) and await self._idle_or_done(shard, closed):
                        return
                    continue
                batch = await self._gather(shard, self.checkpoint(shard).get("after"))
                if batch:
                    await self._handle(shard, batch)
                elif await self._idle_or_done(shard, closed):
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event source mapping %s: shard %s failed; retrying", self.mapping["UUID"], shard)
                await asyncio.sleep(1.0)

    async def _idle_or_done(self, shard: str, closed: bool) -> bool:
        """Mark a closed shard read to its end done (its children may start); otherwise wait a little."""
        point = self.checkpoint(shard)
        after = point.get("after")
        if (closed or self._shard_closed(shard)) and "window" not in point and not self.source.read(shard, after, 1):
            self._save(shard, after, done=True)
            return True
        if self.source.channel and not self.mapping.get("TumblingWindowInSeconds"):
            await self.platform.notifier.wait(self.source.channel, WAKE_TIMEOUT_S)
        else:
            await asyncio.sleep(IDLE_POLL_S)
        return False

    def _shard_closed(self, shard: str) -> bool:
        return any(s["ShardId"] == shard and s.get("Closed") for s in self.source.shards() or [])

    async def _gather(self, shard: str, after: str | None) -> list[StreamEntry]:
        size = (self.mapping.get("BatchSize") or 100) * self._factor()
        window = self.mapping.get("MaximumBatchingWindowInSeconds") or 0
        batch = self.source.read(shard, after, size)
        if batch and len(batch) < size and window:
            deadline = time.monotonic() + window
            while len(batch) < size and time.monotonic() < deadline:
                await asyncio.sleep(min(IDLE_POLL_S, max(0.0, deadline - time.monotonic())))
                batch += self.source.read(shard, batch[-1].sequence, size - len(batch))
        return batch

    def _factor(self) -> int:
        return max(1, int(self.mapping.get("ParallelizationFactor") or 1))

    async def _handle(self, shard: str, batch: list[StreamEntry]) -> None:
        """Deliver what was read to the end (success or given up), moving the checkpoint as it goes.

        With a ParallelizationFactor above 1, records are dealt to that many lanes by partition
        key (so a key's records stay in order, in one lane); the lanes run at the same time, each
        in batches of BatchSize, and the checkpoint moves past all of them once every lane is done."""
        kept_all = batch if self.filters is None else [e for e in batch if self.filters.matches(e.record)]
        size = self.mapping.get("BatchSize") or 100
        factor = self._factor()
        if factor == 1:
            for start in range(0, len(kept_all), size):
                await self._deliver(shard, kept_all[start:start + size], lambda sequence: self._save(shard, sequence))
        else:
            lanes: dict[int, list[StreamEntry]] = {}
            for entry in kept_all:
                lanes.setdefault(hash_lane(entry.key, factor), []).append(entry)

            async def run_lane(entries: list[StreamEntry]) -> None:
                for start in range(0, len(entries), size):
                    await self._deliver(shard, entries[start:start + size], lambda sequence: None)

            await asyncio.gather(*(run_lane(entries) for entries in lanes.values()))
        self._save(shard, batch[-1].sequence)  # past every lane, and past records the filters skipped

    async def _deliver(self, shard: str, batch: list[StreamEntry], save: Any) -> None:
        """One batch: retries, bisection, partial failures, giving up; ``save`` moves the checkpoint."""
        pending = [batch]
        while pending:
            part = pending.pop(0)
            attempts = 0
            while part:
                part = self._drop_expired(shard, part, attempts, save)
                if not part:
                    break
                attempts += 1
                ok, failed_at = await self._invoke(part)
                if ok and failed_at is None:
                    save(part[-1].sequence)
                    break
                if failed_at is not None and failed_at > 0:
                    save(part[failed_at - 1].sequence)
                    part = part[failed_at:]
                if not ok and self.mapping.get("BisectBatchOnFunctionError") and len(part) > 1:
                    half = len(part) // 2  # halves until the failing record is alone
                    pending = [part[:half], part[half:], *pending]
                    break
                retries = self.mapping.get("MaximumRetryAttempts", -1)
                if retries is not None and retries >= 0 and attempts > retries:
                    await self.give_up(shard, part, attempts, "RetryAttemptsExhausted")
                    save(part[-1].sequence)
                    break
                await asyncio.sleep(min(MAX_BACKOFF_S, 0.5 * 2 ** (attempts - 1))
                                    * self.platform.settings.retry_delay_scale)

    def _drop_expired(self, shard: str, part: list[StreamEntry], attempts: int, save: Any) -> list[StreamEntry]:
        limit = self.mapping.get("MaximumRecordAgeInSeconds", -1)
        if limit is None or limit < 0:
            return part
        oldest = time.time() - limit * self.platform.settings.retry_delay_scale  # scaled as async event ages
        expired = [e for e in part if e.arrival < oldest]
        if expired:
            self.platform.spawn(self.give_up(shard, expired, attempts, "RecordAgeExceeded"))
            save(expired[-1].sequence)
        return [e for e in part if e.arrival >= oldest]

    def _put_failure_object(self, bucket_arn: str, shard: str, record: dict[str, Any], account: str,
                            region: str) -> None:
        """An S3 on-failure destination gets the invocation record as an object."""
        key = failure_object_key(self.mapping["UUID"], shard, dt.datetime.now(dt.UTC))
        context = RequestContext.internal(self.platform, "s3", "PutObject", account, region)
        self.platform.objects.put_object(context, {"Bucket": bucket_arn.split(":::", 1)[1], "Key": key,
                                                   "Body": json.dumps(record).encode(),
                                                   "ContentType": "application/json"})

    async def _invoke(self, part: list[StreamEntry]) -> tuple[bool, int | None]:
        """Whether the invoke succeeded, and the index of the lowest failed record it reported."""
        event = json.dumps({"Records": [e.record for e in part]}).encode()
        try:
            ok, payload = await self.invoke(self.mapping, event)
        except AwsError as error:
            log.info("event source mapping %s: invoke failed: %s", self.mapping["UUID"], error.message)
            return False, None
        if not ok:
            return False, None
        if "ReportBatchItemFailures" not in (self.mapping.get("FunctionResponseTypes") or []):
            return True, None
        return self._lowest_failure(payload, part)

    @staticmethod
    def _lowest_failure(payload: bytes, part: list[StreamEntry]) -> tuple[bool, int | None]:
        try:
            response = json.loads(payload) if payload else None
        except ValueError:
            return False, 0
        if not response:
            return True, None
        failures = response.get("batchItemFailures") if isinstance(response, dict) else None
        if not isinstance(failures, list):
            return (True, None) if isinstance(response, dict) and "batchItemFailures" not in response else (False, 0)
        if not failures:
            return True, None
        index = {e.sequence: i for i, e in enumerate(part)}
        found = []
        for item in failures:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if identifier not in index:
                return False, 0  # an empty or unknown identifier fails the whole batch, as AWS
            found.append(index[identifier])
        return True, min(found)

    async def give_up(self, shard: str, part: list[StreamEntry], attempts: int, condition: str) -> None:
        target = ((self.mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if not target:
            return
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        record = {
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": self.mapping["FunctionArn"],
                               "condition": condition, "approximateInvokeCount": attempts},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0", "timestamp": stamp,
            self.source.batch_info_name: {
                "shardId": shard, "startSequenceNumber": part[0].sequence, "endSequenceNumber": part[-1].sequence,
                "approximateArrivalOfFirstRecord": _iso(part[0].arrival),
                "approximateArrivalOfLastRecord": _iso(part[-1].arrival), "batchSize": len(part),
                "streamArn": self.mapping["EventSourceArn"]}}
        function = split_arn(self.mapping["FunctionArn"])
        account, region = (function.account, function.region) if function else ("", "")
        try:
            if target.startswith("arn:aws:s3:::"):
                self._put_failure_object(target, shard, record, account, region)
            else:
                await send(self.platform, target, json.dumps(record), Delivery(account=account, region=region))
        except Exception:
            log.exception("event source mapping %s: on-failure delivery to %s failed", self.mapping["UUID"], target)


def failure_object_key(mapping_id: str, shard: str, at: dt.datetime) -> str:
    """AWS's key of an on-failure record in S3: aws/lambda/<mapping>/<shard>/YYYY/MM/DD/<time>-<uuid>."""
    return (f"aws/lambda/{mapping_id}/{shard}/{at:%Y/%m/%d}/{at:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}")


def hash_lane(key: str, factor: int) -> int:
    """The lane of a partition key (stable across restarts, unlike ``hash``)."""
    return int.from_bytes(hashlib.md5(key.encode()).digest()[:4], "big") % factor


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
