"""Kinesis Data Streams: streams and shards, PutRecord(s), shard iterators and GetRecords,
resharding with lineage, retention, tags and stream modes. State and data records are in the
store; every write is committed before it is acknowledged."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from cumulo.arns import parse_arn
from cumulo.protocol.errors import AwsError
from cumulo.services.base import Provider, RequestContext
from cumulo.services.kinesis import records
from cumulo.services.kinesis.consumers import ConsumerOperations
from cumulo.services.kinesis.limits import ShardWriteLimits
from cumulo.services.kinesis.records import records_channel
from cumulo.services.kinesis.shards import (
    STREAMS,
    close_shard,
    describe_shard,
    even_ranges,
    find_shard,
    hash_key_of,
    new_shard,
    open_shards,
    parse_hash_key,
    reshard_uniformly,
    sequence_text,
    shard_for_hash,
)

ITERATOR_LIFETIME_S = 300
DEFAULT_RETENTION_H = 24
MAX_RETENTION_H = 8760
ON_DEMAND_SHARDS = 4
MAX_GET_RECORDS = 10_000


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidArgumentException", message, status=400)


def _stamp(at: float) -> str:
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(at))


class KinesisProvider(ConsumerOperations, Provider):
    service = "kinesis"

    def __init__(self, platform: Any) -> None:
        super().__init__(platform)
        self._limits = ShardWriteLimits()

    # ---------------------------------------------------------------- helpers
    def _key(self, context: RequestContext, params: dict[str, Any]) -> tuple[str, str, str]:
        """(store key, name, account) of the stream a request names by StreamName or StreamARN."""
        name, account, region = params.get("StreamName"), context.account_id, context.region
        arn = params.get("StreamARN")
        if arn:
            parsed = parse_arn(arn)
            if parsed is None or parsed.service != "kinesis" or not parsed.resource.startswith("stream/"):
                raise _invalid(f"StreamARN {arn} is invalid.")
            arn_name = parsed.resource.split("/", 1)[1]
            if name and name != arn_name:
                raise _invalid("StreamARN and StreamName do not match.")
            name, account, region = arn_name, parsed.account, parsed.region
        if not name:
            raise _invalid("Either StreamName or StreamARN should be provided.")
        return f"{account}/{region}/{name}", name, account

    def _stream(self, context: RequestContext, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        key, name, account = self._key(context, params)
        stream = self.platform.store.get(STREAMS, key)
        if stream is None:
            raise AwsError("ResourceNotFoundException", f"Stream {name} under account {account} not found.",
                           status=400)
        return key, stream

    def _shard(self, stream: dict[str, Any], shard_id: str) -> dict[str, Any]:
        shard = find_shard(stream, shard_id)
        if shard is None:
            raise AwsError("ResourceNotFoundException", f"Shard {shard_id} in stream {stream['name']} under "
                           f"account {stream['account']} does not exist", status=400)
        return shard

    def _summary(self, stream: dict[str, Any]) -> dict[str, Any]:
        return {"StreamName": stream["name"], "StreamARN": stream["arn"], "StreamStatus": "ACTIVE",
                "StreamModeDetails": {"StreamMode": stream["mode"]},
                "RetentionPeriodHours": stream["retention"],
                "StreamCreationTimestamp": stream["created"],
                "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
                "EncryptionType": stream.get("encryption", "NONE"),
                **({"KeyId": stream["key_id"]} if stream.get("key_id") else {})}

    # ---------------------------------------------------------------- streams
    def create_stream(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["StreamName"]
        mode = params.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
        count = params.get("ShardCount")
        if mode == "PROVISIONED" and count is None:
            raise _invalid("ShardCount is required for PROVISIONED streams.")
        if mode == "ON_DEMAND" and count is not None:
            raise _invalid("ShardCount is not supported for ON_DEMAND streams.")
        key = f"{context.account_id}/{context.region}/{name}"
        stream: dict[str, Any] = {
            "name": name, "account": context.account_id, "arn": context.arn("kinesis", f"stream/{name}"),
            "mode": mode, "retention": DEFAULT_RETENTION_H, "created": time.time(), "shards": [],
            "next_shard": 0, "counter": 0, "tags": dict(params.get("Tags") or {})}
        for low, high in even_ranges(count or ON_DEMAND_SHARDS):
            new_shard(stream, low, high)
        if not self.platform.store.insert(STREAMS, key, stream):
            raise AwsError("ResourceInUseException", f"Stream {name} under account {context.account_id} "
                           "already exists.", status=400)
        return {}

    def delete_stream(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, params)
        if stream.get("consumers") and not params.get("EnforceConsumerDeletion"):
            raise AwsError("ResourceInUseException", f"Stream {stream['name']} under account {stream['account']} has "
                           "registered consumers. Use EnforceConsumerDeletion to delete it with them.", status=400)
        with self.platform.store.transaction():
            self.platform.store.delete(STREAMS, key)
            records.drop_stream(self.platform.store, key)
        return {}

    def describe_stream(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, stream = self._stream(context, params)
        shards = stream["shards"]
        start = params.get("ExclusiveStartShardId")
        if start:
            shards = [s for s in shards if s["id"] > start]
        limit = params.get("Limit", 100)
        summary = self._summary(stream)
        del summary["EncryptionType"]
        return {"StreamDescription": {
            **summary, "Shards": [describe_shard(s) for s in shards[:limit]], "HasMoreShards": len(shards) > limit,
            "EncryptionType": stream.get("encryption", "NONE")}}

    def describe_stream_summary(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, stream = self._stream(context, params)
        return {"StreamDescriptionSummary": {**self._summary(stream), "OpenShardCount": len(open_shards(stream)),
                                             "ConsumerCount": len(stream.get("consumers", {}))}}

    def list_streams(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = f"{context.account_id}/{context.region}/"
        start = params.get("ExclusiveStartStreamName") or params.get("NextToken")
        limit = params.get("Limit", 100)
        page = self.platform.store.scan(STREAMS, prefix, start_after=prefix + start if start else None,
                                        limit=limit + 1)
        streams = [value for _, value in page[:limit]]
        answer: dict[str, Any] = {
            "StreamNames": [s["name"] for s in streams], "HasMoreStreams": len(page) > limit,
            "StreamSummaries": [{"StreamName": s["name"], "StreamARN": s["arn"], "StreamStatus": "ACTIVE",
                                 "StreamModeDetails": {"StreamMode": s["mode"]},
                                 "StreamCreationTimestamp": s["created"]} for s in streams]}
        if len(page) > limit:
            answer["NextToken"] = streams[-1]["name"]
        return answer

    def describe_limits(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = f"{context.account_id}/{context.region}/"
        streams = [v for _, v in self.platform.store.scan(STREAMS, prefix)]
        return {"ShardLimit": 500, "OpenShardCount": sum(len(open_shards(s)) for s in streams),
                "OnDemandStreamCount": sum(s["mode"] == "ON_DEMAND" for s in streams),
                "OnDemandStreamCountLimit": 50}

    def update_stream_mode(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, {"StreamARN": params["StreamARN"]})
        stream["mode"] = params["StreamModeDetails"]["StreamMode"]
        self.platform.store.put(STREAMS, key, stream)
        return {}

    def start_stream_encryption(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, params)
        stream["encryption"], stream["key_id"] = params["EncryptionType"], params["KeyId"]
        self.platform.store.put(STREAMS, key, stream)
        return {}

    def stop_stream_encryption(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, params)
        stream["encryption"] = "NONE"
        stream.pop("key_id", None)
        self.platform.store.put(STREAMS, key, stream)
        return {}

    # -------------------------------------------------------------- retention
    def increase_stream_retention_period(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, params)
        hours = params["RetentionPeriodHours"]
        if hours > MAX_RETENTION_H:
            raise _invalid(f"Maximum allowed retention period is {MAX_RETENTION_H} hours. Requested retention "
                           f"period ({hours} hours) is too long.")
        if hours < stream["retention"]:
            raise _invalid(f"Requested retention period ({hours} hours) for stream {stream['name']} can not be "
                           f"shorter than existing retention period ({stream['retention']} hours). Use "
                           "DecreaseRetentionPeriod API.")
        stream["retention"] = hours
        self.platform.store.put(STREAMS, key, stream)
        return {}

    def decrease_stream_retention_period(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, params)
        hours = params["RetentionPeriodHours"]
        if hours < DEFAULT_RETENTION_H:
            raise _invalid(f"Minimum allowed retention period is {DEFAULT_RETENTION_H} hours. Requested retention "
                           f"period ({hours} hours) is too short.")
        if hours > stream["retention"]:
            raise _invalid(f"Requested retention period ({hours} hours) for stream {stream['name']} can not be "
                           f"longer than existing retention period ({stream['retention']} hours). Use "
                           "IncreaseRetentionPeriod API.")
        stream["retention"] = hours
        with self.platform.store.transaction():
            self.platform.store.put(STREAMS, key, stream)
            for shard in stream["shards"]:
                records.expire(self.platform.store, key, shard["id"], hours * 3600)
        return {}

    # ------------------------------------------------------------------- tags
    def add_tags_to_stream(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, params)
        tags = {**stream["tags"], **params["Tags"]}
        if len(tags) > 50:
            raise _invalid("Failed to add tags to stream because a given stream cannot have more than 50 tags.")
        stream["tags"] = tags
        self.platform.store.put(STREAMS, key, stream)
        return {}

    def remove_tags_from_stream(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, params)
        for name in params["TagKeys"]:
            stream["tags"].pop(name, None)
        self.platform.store.put(STREAMS, key, stream)
        return {}

    def list_tags_for_stream(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, stream = self._stream(context, params)
        names = sorted(stream["tags"])
        start = params.get("ExclusiveStartTagKey")
        if start:
            names = [n for n in names if n > start]
        limit = params.get("Limit", 50)
        return {"Tags": [{"Key": n, "Value": stream["tags"][n]} for n in names[:limit]],
                "HasMoreTags": len(names) > limit}

    def _tagged(self, context: RequestContext, arn: str) -> tuple[str, dict[str, Any]]:
        if ":stream/" not in arn or "/consumer/" in arn:
            raise _invalid(f"Resource ARN {arn} is not a supported Kinesis stream ARN.")
        return self._stream(context, {"StreamARN": arn})

    def tag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, stream = self._tagged(context, params["ResourceARN"])
        return self.add_tags_to_stream(context, {"StreamARN": stream["arn"], "Tags": params["Tags"]})

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, stream = self._tagged(context, params["ResourceARN"])
        return self.remove_tags_from_stream(context, {"StreamARN": stream["arn"], "TagKeys": params["TagKeys"]})

    def list_tags_for_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, stream = self._tagged(context, params["ResourceARN"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(stream["tags"].items())]}

    # ---------------------------------------------------------------- writing
    def _place(self, stream: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
        explicit = record.get("ExplicitHashKey")
        hash_key = parse_hash_key(explicit, "ExplicitHashKey") if explicit else hash_key_of(record["PartitionKey"])
        return shard_for_hash(stream, hash_key)

    def _admit(self, key: str, stream: dict[str, Any], shard: dict[str, Any], size: int) -> bool:
        if not self.platform.settings.kinesis_shard_limits or stream["mode"] != "PROVISIONED":
            return True
        return self._limits.admit(key, shard["id"], size)

    def _throttled(self, stream: dict[str, Any], shard: dict[str, Any]) -> str:
        return f"Rate exceeded for shard {shard['id']} in stream {stream['name']} under account {stream['account']}."

    def put_record(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, params)
        shard = self._place(stream, params)
        data = params["Data"]
        if not self._admit(key, stream, shard, len(data) + len(params["PartitionKey"])):
            raise AwsError("ProvisionedThroughputExceededException", self._throttled(stream, shard), status=400)
        sequence = self._append(key, stream, [(shard, data, params["PartitionKey"])])[0]
        return {"ShardId": shard["id"], "SequenceNumber": sequence,
                "EncryptionType": stream.get("encryption", "NONE")}

    def put_records(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, params)
        results: list[dict[str, Any]] = []
        accepted: list[tuple[dict[str, Any], bytes, str]] = []
        for record in params["Records"]:
            shard = self._place(stream, record)
            if self._admit(key, stream, shard, len(record["Data"]) + len(record["PartitionKey"])):
                accepted.append((shard, record["Data"], record["PartitionKey"]))
                results.append({"ShardId": shard["id"]})
            else:
                results.append({"ErrorCode": "ProvisionedThroughputExceededException",
                                "ErrorMessage": self._throttled(stream, shard)})
        sequences = iter(self._append(key, stream, accepted))
        for result in results:
            if "ShardId" in result:
                result["SequenceNumber"] = next(sequences)
        return {"FailedRecordCount": len(params["Records"]) - len(accepted), "Records": results,
                "EncryptionType": stream.get("encryption", "NONE")}

    def _append(self, key: str, stream: dict[str, Any], items: list[tuple[dict[str, Any], bytes, str]]) -> list[str]:
        """Give the records their sequence numbers and commit them with the stream's counter."""
        now = time.time()
        sequences: list[str] = []
        rows = []
        for shard, data, partition_key in items:
            stream["counter"] += 1
            sequence = sequence_text(stream["counter"])
            sequences.append(sequence)
            rows.append((shard["id"], sequence, data, now, partition_key))
        with self.platform.store.transaction():
            records.append(self.platform.store, key, rows)
            self.platform.store.put(STREAMS, key, stream)
        self.platform.notifier.notify(records_channel(stream["arn"]))  # wakes stream pollers
        return sequences

    # ---------------------------------------------------------------- reading
    def get_shard_iterator(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, params)
        shard = self._shard(stream, params["ShardId"])
        kind = params["ShardIteratorType"]
        sequence = params.get("StartingSequenceNumber")
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if not sequence or not sequence.isdigit() or len(sequence) != len(shard["start"]):
                raise _invalid(f"StartingSequenceNumber {sequence} used in GetShardIterator on shard "
                               f"{shard['id']} in stream {stream['name']} under account {stream['account']} is "
                               "invalid.")
            after: str | None = (str(int(sequence) - 1).zfill(len(sequence)) if kind == "AT_SEQUENCE_NUMBER"
                                 else sequence)
        elif kind == "AT_TIMESTAMP":
            at = params.get("Timestamp")
            if at is None:
                raise _invalid("Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                               "Current request has no timestamp parameter.")
            after = records.first_at_or_after(self.platform.store, key, shard["id"], at.timestamp())
        elif kind == "TRIM_HORIZON":
            after = None
        else:  # LATEST
            after = records.last_sequence(self.platform.store, key, shard["id"]) or shard["start"]
        return {"ShardIterator": _encode({"s": key, "h": shard["id"], "a": after, "t": time.time()})}

    def get_records(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        position = _decode(params["ShardIterator"])
        if time.time() - position["t"] > ITERATOR_LIFETIME_S:
            raise AwsError("ExpiredIteratorException", f"Iterator expired. The iterator was created at time "
                           f"{_stamp(position['t'])} while right now it is {_stamp(time.time())} which is further "
                           f"in the future than the tolerated delay of {ITERATOR_LIFETIME_S * 1000} milliseconds.",
                           status=400)
        key = position["s"]
        stream = self.platform.store.get(STREAMS, key)
        if stream is None:
            account, _, name = key.split("/", 2)
            raise AwsError("ResourceNotFoundException", f"Stream {name} under account {account} not found.",
                           status=400)
        shard = self._shard(stream, position["h"])
        limit = params.get("Limit", MAX_GET_RECORDS)
        found = records.read(self.platform.store, key, shard["id"], position["a"], limit + 1,
                             stream["retention"] * 3600)
        more = len(found) > limit
        found = found[:limit]
        after = found[-1]["SequenceNumber"] if found else position["a"]
        answer: dict[str, Any] = {
            "Records": found,
            "MillisBehindLatest": int((time.time() - found[-1]["ApproximateArrivalTimestamp"]) * 1000) if more else 0}
        if "end" in shard and not more:
            answer["ChildShards"] = [
                {"ShardId": s["id"], "ParentShards": [p for p in (s.get("parent"), s.get("adjacent")) if p],
                 "HashKeyRange": {"StartingHashKey": s["low"], "EndingHashKey": s["high"]}}
                for s in stream["shards"] if shard["id"] in (s.get("parent"), s.get("adjacent"))]
        else:
            answer["NextShardIterator"] = _encode({**position, "a": after, "t": time.time()})
        return answer

    def list_shards(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("NextToken")
        if token:
            if params.get("StreamName") or params.get("StreamARN"):
                raise _invalid("NextToken and StreamName cannot be provided together.")
            position = _decode_token(token)
            params = {**params, "StreamARN": position["arn"], "ExclusiveStartShardId": position["after"]}
        _, stream = self._stream(context, params)
        shards = list(stream["shards"])
        start = params.get("ExclusiveStartShardId")
        if start:
            shards = [s for s in shards if s["id"] > start]
        shard_filter = params.get("ShardFilter")
        if shard_filter:
            shards = _filter_shards(shards, shard_filter, stream)
        limit = params.get("MaxResults", 1000)
        answer: dict[str, Any] = {"Shards": [describe_shard(s) for s in shards[:limit]]}
        if len(shards) > limit:
            answer["NextToken"] = base64.b64encode(json.dumps(
                {"arn": stream["arn"], "after": shards[limit - 1]["id"]}).encode()).decode()
        return answer

    # -------------------------------------------------------------- resharding
    def split_shard(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, params)
        shard = self._shard(stream, params["ShardToSplit"])
        if "end" in shard:
            raise AwsError("ResourceInUseException", f"Shard {shard['id']} in stream {stream['name']} under "
                           f"account {stream['account']} has already been merged or split, and thus is not "
                           "eligible for merging or splitting.", status=400)
        split_at = parse_hash_key(params["NewStartingHashKey"], "NewStartingHashKey")
        low, high = int(shard["low"]), int(shard["high"])
        if not low < split_at <= high:
            raise _invalid(f"NewStartingHashKey {split_at} used in SplitShard() on shard {shard['id']} in stream "
                           f"{stream['name']} under account {stream['account']} is not both greater than one plus "
                           f"the shard's StartingHashKey {low} and less than the shard's EndingHashKey {high}.")
        close_shard(stream, shard)
        new_shard(stream, low, split_at - 1, shard["id"])
        new_shard(stream, split_at, high, shard["id"])
        self.platform.store.put(STREAMS, key, stream)
        return {}

    def merge_shards(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, params)
        first = self._shard(stream, params["ShardToMerge"])
        second = self._shard(stream, params["AdjacentShardToMerge"])
        for shard in (first, second):
            if "end" in shard:
                raise AwsError("ResourceInUseException", f"Shard {shard['id']} in stream {stream['name']} under "
                               f"account {stream['account']} has already been merged or split, and thus is not "
                               "eligible for merging or splitting.", status=400)
        low, high = sorted((first, second), key=lambda s: int(s["low"]))
        if int(low["high"]) + 1 != int(high["low"]):
            raise _invalid(f"Shards {first['id']} and {second['id']} in stream {stream['name']} under account "
                           f"{stream['account']} are not an adjacent pair of shards eligible for merging")
        close_shard(stream, first)
        close_shard(stream, second)
        new_shard(stream, int(low["low"]), int(high["high"]), first["id"], second["id"])
        self.platform.store.put(STREAMS, key, stream)
        return {}

    def update_shard_count(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, stream = self._stream(context, params)
        current, target = len(open_shards(stream)), params["TargetShardCount"]
        if stream["mode"] == "ON_DEMAND":
            raise _invalid(f"UpdateShardCount is not supported for stream {stream['name']} under account "
                           f"{stream['account']} in ON_DEMAND mode.")
        if target > current * 2 or target < (current + 1) // 2:
            raise _invalid(f"UpdateShardCount cannot scale up over double your current open shard count or scale "
                           f"down below half your current open shard count. Current open shard count: {current}")
        if target != current:
            reshard_uniformly(stream, target)
            self.platform.store.put(STREAMS, key, stream)
        return {"StreamName": stream["name"], "StreamARN": stream["arn"], "CurrentShardCount": current,
                "TargetShardCount": target}

    # ------------------------------------------------ DataStreams (stream pollers)
    def _by_arn(self, stream_arn: str) -> tuple[str, dict[str, Any]] | None:
        parsed = parse_arn(stream_arn)
        if parsed is None or not parsed.resource.startswith("stream/"):
            return None
        key = f"{parsed.account}/{parsed.region}/{parsed.resource.split('/', 1)[1]}"
        stream = self.platform.store.get(STREAMS, key)
        return (key, stream) if stream is not None else None

    def stream_shards(self, stream_arn: str) -> list[dict[str, Any]] | None:
        found = self._by_arn(stream_arn)
        if found is None:
            return None
        return [{"ShardId": s["id"], "ParentShardId": s.get("parent"), "AdjacentParentShardId": s.get("adjacent"),
                 "Closed": "end" in s} for s in found[1]["shards"]]

    def read_shard(self, stream_arn: str, shard: str, after_sequence: str | None,
                   limit: int) -> list[dict[str, Any]]:
        found = self._by_arn(stream_arn)
        if found is None:
            return []
        return records.read(self.platform.store, found[0], shard, after_sequence, limit,
                            found[1]["retention"] * 3600)

    def records_channel(self, stream_arn: str) -> str:
        return records_channel(stream_arn)

    def shard_position(self, stream_arn: str, shard: str, at: float | None) -> str | None:
        found = self._by_arn(stream_arn)
        if found is None:
            return None
        if at is None:
            return records.last_sequence(self.platform.store, found[0], shard)
        return records.first_at_or_after(self.platform.store, found[0], shard, at)


def _filter_shards(shards: list[dict[str, Any]], shard_filter: dict[str, Any],
                   stream: dict[str, Any]) -> list[dict[str, Any]]:
    kind = shard_filter["Type"]
    if kind == "AFTER_SHARD_ID":
        after = shard_filter.get("ShardId")
        if not after:
            raise _invalid("ShardId must be provided with the AFTER_SHARD_ID shard filter.")
        return [s for s in shards if s["id"] > after]
    if kind == "AT_LATEST":
        return [s for s in shards if "end" not in s]
    if kind in ("AT_TIMESTAMP", "FROM_TIMESTAMP"):
        at = shard_filter.get("Timestamp")
        if at is None:
            raise _invalid(f"Timestamp must be provided with the {kind} shard filter.")
        moment = at.timestamp()
        if kind == "AT_TIMESTAMP":
            return [s for s in shards if s["opened"] <= moment and s.get("closed", float("inf")) > moment]
        return [s for s in shards if s.get("closed", float("inf")) > moment]
    # AT_TRIM_HORIZON / FROM_TRIM_HORIZON: every shard whose records may still be retained
    oldest = time.time() - stream["retention"] * 3600
    return [s for s in shards if s.get("closed", float("inf")) > oldest]


def _encode(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode()


def _decode(token: str) -> dict[str, Any]:
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(position, dict) or not {"s", "h", "a", "t"} <= position.keys():
            raise ValueError(token)
        return position
    except (ValueError, TypeError):
        raise _invalid(f"Invalid ShardIterator: {token}") from None


def _decode_token(token: str) -> dict[str, Any]:
    try:
        position = json.loads(base64.b64decode(token.encode()))
        if not isinstance(position, dict) or not {"arn", "after"} <= position.keys():
            raise ValueError(token)
        return position
    except (ValueError, TypeError):
        raise _invalid(f"NextToken {token} is invalid.") from None
