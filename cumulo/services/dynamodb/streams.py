"""DynamoDB Streams records: written in the same store transaction as the item change they
describe, read by the ``dynamodbstreams`` API and (later) a Lambda stream poller.

Store tables:

* ``dynamodb.stream``    ``<stream id>/<sequence number>`` -> one record (AWS's shape, binary as base64);
* ``dynamodb.streamseq`` ``<stream id>`` -> the next sequence number.

A stream has one shard that stays open while the stream is enabled; disabling the stream closes
it (its last sequence number is recorded) and a new stream gets a new label. Records older than
24 hours are dropped by the sweeper.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from cumulo.services.dynamodb.tables import Table
from cumulo.services.dynamodb.values import Item, item_size, to_stored
from cumulo.store.base import Store

STREAM, STREAM_SEQ = "dynamodb.stream", "dynamodb.streamseq"
RETENTION_S = 24 * 3600
_SEQUENCE_BASE = 10 ** 20  # 21-digit sequence numbers, ordered as text and as numbers
SERVICE_IDENTITY = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}


def stream_id(table_id: str, label: str) -> str:
    return f"{table_id}:{label}"


def shard_id(label: str) -> str:
    digits = "".join(c for c in label if c.isdigit())[:20].ljust(20, "0")
    return f"shardId-{digits}-{uuid.uuid5(uuid.NAMESPACE_URL, label).hex[:8]}"


class StreamLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, table: Table, event: str, keys: Item, old: Item | None, new: Item | None,
               user_identity: dict[str, str] | None = None) -> None:
        """Append the record of one item change (call inside the change's transaction)."""
        spec = table.stream
        if spec is None:
            return
        label = table.description["LatestStreamLabel"]
        sid = stream_id(table.id, label)
        counter = self.store.get(STREAM_SEQ, sid) or {"next": 1}
        sequence = str(_SEQUENCE_BASE + counter["next"])
        self.store.put(STREAM_SEQ, sid, {"next": counter["next"] + 1})
        view = spec["StreamViewType"]
        body: dict[str, Any] = {"ApproximateCreationDateTime": int(time.time()), "Keys": to_stored(keys),
                                "SequenceNumber": sequence, "StreamViewType": view}
        size = item_size(keys)
        if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new is not None:
            body["NewImage"] = to_stored(new)
            size += item_size(new)
        if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old is not None:
            body["OldImage"] = to_stored(old)
            size += item_size(old)
        body["SizeBytes"] = size
        record = {"eventID": uuid.uuid4().hex, "eventName": event, "eventVersion": "1.1",
                  "eventSource": "aws:dynamodb", "awsRegion": table.region, "dynamodb": body,
                  "at": time.time()}
        if user_identity:
            record["userIdentity"] = user_identity
        self.store.put(STREAM, f"{sid}/{sequence}", record)

    def read(self, sid: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        rows = self.store.scan(STREAM, f"{sid}/", start_after=f"{sid}/{after}" if after else None, limit=limit)
        return [record for _, record in rows]

    def bounds(self, sid: str) -> tuple[str | None, str | None]:
        """The first and last sequence numbers held for a stream."""
        first = self.store.scan(STREAM, f"{sid}/", limit=1)
        last = self.store.scan(STREAM, f"{sid}/", limit=1, reverse=True)
        return (first[0][0].rsplit("/", 1)[1] if first else None, last[0][0].rsplit("/", 1)[1] if last else None)

    def trim(self, sid: str, now: float, batch: int = 50) -> int:
        """Drop records past the 24-hour retention, oldest first (reads one record when none is due)."""
        dropped, limit = 0, 1
        while True:
            rows = self.store.scan(STREAM, f"{sid}/", limit=limit)
            for key, record in rows:
                if record["at"] >= now - RETENTION_S:
                    return dropped
                self.store.delete(STREAM, key)
                dropped += 1
            if len(rows) < limit:
                return dropped
            limit = batch

    def drop(self, sid: str) -> None:
        self.store.delete_prefix(STREAM, f"{sid}/")
        self.store.delete(STREAM_SEQ, sid)
