"""The two stream sources a stream poller reads: Kinesis data streams and DynamoDB Streams.

Both hand the poller shards, records after a sequence number, and each record in the shape
Lambda's event carries it, so one poller serves both."""

from __future__ import annotations

import base64
import datetime as dt
from typing import TYPE_CHECKING, Any, Protocol

from cumulo.arns import split_arn

if TYPE_CHECKING:
    from cumulo.platform import Platform


class StreamEntry:
    """One record read from a shard: its sequence number, arrival time and event record."""

    __slots__ = ("arrival", "key", "record", "sequence")

    def __init__(self, sequence: str, arrival: float, key: str, record: dict[str, Any]) -> None:
        self.sequence, self.arrival, self.key, self.record = sequence, arrival, key, record


class StreamSource(Protocol):
    batch_info_name: str  # KinesisBatchInfo / DDBStreamBatchInfo in on-failure records
    channel: str | None  # the notifier channel hinted on new records (None: poll)

    def shards(self) -> list[dict[str, Any]] | None: ...

    def read(self, shard: str, after: str | None, limit: int) -> list[StreamEntry]: ...

    def position(self, shard: str, at: float | None) -> str | None: ...


class KinesisSource:
    batch_info_name = "KinesisBatchInfo"

    def __init__(self, platform: Platform, arn: str) -> None:
        self.platform, self.arn = platform, arn
        parsed = split_arn(arn)
        self.region = parsed.region if parsed else ""
        self.channel: str | None = platform.data_streams.records_channel(arn)

    def shards(self) -> list[dict[str, Any]] | None:
        return self.platform.data_streams.stream_shards(self.arn)

    def read(self, shard: str, after: str | None, limit: int) -> list[StreamEntry]:
        return [StreamEntry(r["SequenceNumber"], r["ApproximateArrivalTimestamp"], r["PartitionKey"], {
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r["PartitionKey"],
                        "sequenceNumber": r["SequenceNumber"], "data": base64.b64encode(r["Data"]).decode(),
                        "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"]},
            "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{shard}:{r['SequenceNumber']}",
            "eventName": "aws:kinesis:record", "awsRegion": self.region, "eventSourceARN": self.arn})
            for r in self.platform.data_streams.read_shard(self.arn, shard, after, limit)]

    def position(self, shard: str, at: float | None) -> str | None:
        return self.platform.data_streams.shard_position(self.arn, shard, at)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


class TableStreamSource:
    """A DynamoDB stream: one shard, records in the Streams API shape plus ``eventSourceARN``."""

    batch_info_name = "DDBStreamBatchInfo"

    def __init__(self, platform: Platform, arn: str) -> None:
        self.platform, self.arn = platform, arn
        parsed = split_arn(arn)
        self.account, self.region = (parsed.account, parsed.region) if parsed else ("", "")
        self.channel: str | None = None

    def shards(self) -> list[dict[str, Any]] | None:
        description = self.platform.streams.describe_table_stream(self.account, self.region, self.arn)
        if description is None:
            return None
        return [{"ShardId": s["ShardId"], "ParentShardId": s.get("ParentShardId"),
                 "Closed": "EndingSequenceNumber" in s.get("SequenceNumberRange", {})}
                for s in description["Shards"]]

    def read(self, shard: str, after: str | None, limit: int) -> list[StreamEntry]:
        found = self.platform.streams.read_stream(self.account, self.region, self.arn, after, limit) or []
        entries = []
        for record in found:
            body = _plain(record)
            body["eventSourceARN"] = self.arn
            change = body["dynamodb"]
            arrival = float(change.get("ApproximateCreationDateTime") or 0)
            entries.append(StreamEntry(change["SequenceNumber"], arrival, str(change.get("Keys")), body))
        return entries

    def position(self, shard: str, at: float | None) -> str | None:
        if at is None:
            return self.platform.streams.latest_sequence(self.account, self.region, self.arn)
        previous: str | None = None
        while True:
            page = self.read(shard, previous, 500)
            for entry in page:
                if entry.arrival >= at:
                    return previous
                previous = entry.sequence
            if len(page) < 500:
                return previous


def source_for(platform: Platform, arn: str) -> StreamSource:
    parsed = split_arn(arn)
    if parsed is not None and parsed.service == "kinesis":
        return KinesisSource(platform, arn)
    return TableStreamSource(platform, arn)
