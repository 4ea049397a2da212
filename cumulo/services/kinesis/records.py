"""Data records in the store: one record per data record, keyed by stream, shard and sequence
number so a read is a key-range scan from an iterator's position, never a scan of the stream."""

from __future__ import annotations

import base64
import time
from typing import Any

from cumulo.store.base import Store

RECORDS = "kinesis_records"


def records_channel(stream_arn: str) -> str:
    """The notifier channel hinted when records are added to the stream (stream pollers wait on it)."""
    return f"kinesis-records:{stream_arn}"


def shard_prefix(stream_key: str, shard: str) -> str:
    return f"{stream_key}/{shard}/"


def append(store: Store, stream_key: str, items: list[tuple[str, str, bytes, float, str]]) -> None:
    """Write ``(shard, sequence, data, arrival, partition key)`` records; the caller holds the transaction."""
    store.put_many(RECORDS, [(f"{stream_key}/{shard}/{sequence}",
                              {"d": base64.b64encode(data).decode(), "k": key, "t": arrival})
                             for shard, sequence, data, arrival, key in items])


def read(store: Store, stream_key: str, shard: str, after: str | None, limit: int,
         retention_s: float) -> list[dict[str, Any]]:
    """Up to ``limit`` records of the shard after sequence ``after`` (from the start when None),
    skipping those past the retention period."""
    prefix = shard_prefix(stream_key, shard)
    oldest = time.time() - retention_s
    found: list[dict[str, Any]] = []
    start = prefix + after if after else None
    while len(found) < limit:
        page = store.scan(RECORDS, prefix, start_after=start, limit=limit - len(found))
        if not page:
            break
        for key, value in page:
            if value["t"] >= oldest:
                found.append({"SequenceNumber": key[len(prefix):], "ApproximateArrivalTimestamp": value["t"],
                              "Data": base64.b64decode(value["d"]), "PartitionKey": value["k"]})
        start = page[-1][0]
    return found


def last_sequence(store: Store, stream_key: str, shard: str) -> str | None:
    page = store.scan(RECORDS, shard_prefix(stream_key, shard), limit=1, reverse=True)
    return page[0][0].rsplit("/", 1)[1] if page else None


def first_at_or_after(store: Store, stream_key: str, shard: str, at: float) -> str | None:
    """The sequence number just before the shard's first record that arrived at or after ``at``
    (the position of an AT_TIMESTAMP iterator); None when that is the shard's first record."""
    prefix = shard_prefix(stream_key, shard)
    previous: str | None = None
    start: str | None = None
    while True:
        page = store.scan(RECORDS, prefix, start_after=start, limit=500)
        for key, value in page:
            if value["t"] >= at:
                return previous
            previous = key[len(prefix):]
        if len(page) < 500:
            return previous
        start = page[-1][0]


def expire(store: Store, stream_key: str, shard: str, retention_s: float, limit: int = 1000) -> int:
    """Delete the shard's records older than the retention period (oldest first)."""
    oldest = time.time() - retention_s
    dropped = 0
    for key, value in store.scan(RECORDS, shard_prefix(stream_key, shard), limit=limit):
        if value["t"] >= oldest:
            break
        store.delete(RECORDS, key)
        dropped += 1
    return dropped


def drop_stream(store: Store, stream_key: str) -> None:
    store.delete_prefix(RECORDS, stream_key + "/")
