"""Stream and shard records: the hash-key space, sequence numbers and shard lineage.

A stream is one record in ``kinesis_streams`` holding its shards. Each shard owns a range of
the 128-bit hash-key space (a partition key's MD5, as AWS); a split or merge closes shards
(they keep an ending sequence number) and opens children that name their parents.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from cumulo.protocol.errors import AwsError

STREAMS = "kinesis_streams"
HASH_SPACE = 1 << 128
SEQUENCE_DIGITS = 56
# Sequence numbers are 56 decimal digits (AWS's length); fixed width makes key order numeric order.
SEQUENCE_BASE = 49 * 10 ** (SEQUENCE_DIGITS - 2)


def sequence_text(counter: int) -> str:
    return str(SEQUENCE_BASE + counter).zfill(SEQUENCE_DIGITS)


def hash_key_of(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def even_ranges(count: int, start: int = 0, end: int = HASH_SPACE - 1) -> list[tuple[int, int]]:
    """``count`` contiguous ranges covering [start, end], as AWS's even split."""
    width = (end - start + 1) // count
    bounds = [start + i * width for i in range(count)] + [end + 1]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(count)]


def new_shard(stream: dict[str, Any], low: int, high: int, parent: str | None = None,
              adjacent: str | None = None) -> dict[str, Any]:
    index = stream["next_shard"]
    stream["next_shard"] = index + 1
    shard: dict[str, Any] = {"id": shard_id(index), "low": str(low), "high": str(high),
                             "start": sequence_text(stream["counter"]), "opened": time.time()}
    if parent:
        shard["parent"] = parent
    if adjacent:
        shard["adjacent"] = adjacent
    stream["shards"].append(shard)
    return shard


def close_shard(stream: dict[str, Any], shard: dict[str, Any]) -> None:
    shard["end"] = sequence_text(stream["counter"])
    shard["closed"] = time.time()
    stream["counter"] += 1


def open_shards(stream: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in stream["shards"] if "end" not in s]


def find_shard(stream: dict[str, Any], shard: str) -> dict[str, Any] | None:
    return next((s for s in stream["shards"] if s["id"] == shard), None)


def shard_for_hash(stream: dict[str, Any], hash_key: int) -> dict[str, Any]:
    for shard in open_shards(stream):
        if int(shard["low"]) <= hash_key <= int(shard["high"]):
            return shard
    raise AwsError("InternalFailure", "no open shard covers the hash key", status=500)


def describe_shard(shard: dict[str, Any]) -> dict[str, Any]:
    sequence_range = {"StartingSequenceNumber": shard["start"]}
    if "end" in shard:
        sequence_range["EndingSequenceNumber"] = shard["end"]
    described: dict[str, Any] = {
        "ShardId": shard["id"],
        "HashKeyRange": {"StartingHashKey": shard["low"], "EndingHashKey": shard["high"]},
        "SequenceNumberRange": sequence_range,
    }
    if "parent" in shard:
        described["ParentShardId"] = shard["parent"]
    if "adjacent" in shard:
        described["AdjacentParentShardId"] = shard["adjacent"]
    return described


def parse_hash_key(text: str, name: str) -> int:
    if not text.isdigit() or int(text) >= HASH_SPACE:
        raise AwsError("InvalidArgumentException", f"{name} {text} must be a decimal number between 0 and "
                       f"{HASH_SPACE - 1}.", status=400)
    return int(text)


def reshard_uniformly(stream: dict[str, Any], target: int) -> None:
    """UpdateShardCount UNIFORM_SCALING: close the open shards and open ``target`` even ones; each
    child names the (up to two) old shards its range overlaps as parent and adjacent parent."""
    old = sorted(open_shards(stream), key=lambda s: int(s["low"]))
    for shard in old:
        close_shard(stream, shard)
    for low, high in even_ranges(target):
        overlapping = [s["id"] for s in old if int(s["low"]) <= high and int(s["high"]) >= low]
        new_shard(stream, low, high, overlapping[0], overlapping[1] if len(overlapping) == 2 else None)
