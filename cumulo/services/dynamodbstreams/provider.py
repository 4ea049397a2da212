"""DynamoDB Streams: ListStreams, DescribeStream, GetShardIterator (every iterator type) and
GetRecords over the records DynamoDB writes with each item change (``platform.streams``)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import Provider, RequestContext

ITERATOR_LIFETIME_S = 15 * 60


def _not_found(what: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Requested resource not found: {what}", status=400)


def _invalid_iterator() -> AwsError:
    return AwsError("ValidationException", "Invalid ShardIterator", status=400)


class DynamoDbStreamsProvider(Provider):
    service = "dynamodbstreams"

    def _describe(self, context: RequestContext, arn: str) -> dict[str, Any]:
        description = self.platform.streams.describe_table_stream(context.account_id, context.region, arn)
        if description is None:
            raise _not_found(f"Stream: {arn} not found")
        return description

    def list_streams(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        streams = self.platform.streams.stream_tables(context.account_id, context.region)
        if params.get("TableName"):
            streams = [s for s in streams if s["TableName"] == params["TableName"]]
        streams.sort(key=lambda s: s["StreamArn"])
        start = params.get("ExclusiveStartStreamArn")
        if start:
            streams = [s for s in streams if s["StreamArn"] > start]
        limit = params.get("Limit", 100)
        answer: dict[str, Any] = {"Streams": streams[:limit]}
        if len(streams) > limit:
            answer["LastEvaluatedStreamArn"] = streams[limit - 1]["StreamArn"]
        return answer

    def describe_stream(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        description = self._describe(context, params["StreamArn"])
        start = params.get("ExclusiveStartShardId")
        if start:
            description["Shards"] = [s for s in description["Shards"] if s["ShardId"] > start]
        return {"StreamDescription": description}

    def get_shard_iterator(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn, shard = params["StreamArn"], params["ShardId"]
        description = self._describe(context, arn)
        found = next((s for s in description["Shards"] if s["ShardId"] == shard), None)
        if found is None:
            raise _not_found(f"Shard: {shard} in Stream: {arn} not found")
        kind = params["ShardIteratorType"]
        sequence = params.get("SequenceNumber")
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if not sequence or not sequence.isdigit():
                raise AwsError("ValidationException", f"Must specify a valid sequence number for {kind} iterator "
                               "type", status=400)
            after = str(int(sequence) - 1) if kind == "AT_SEQUENCE_NUMBER" else sequence
        elif kind == "TRIM_HORIZON":
            after = None
        else:  # LATEST
            after = self.platform.streams.latest_sequence(context.account_id, context.region, arn)
        return {"ShardIterator": _encode({"arn": arn, "shard": shard, "after": after, "at": time.time()})}

    def get_records(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        position = _decode(params["ShardIterator"])
        if time.time() - position["at"] > ITERATOR_LIFETIME_S:
            raise AwsError("ExpiredIteratorException", "Iterator expired. The iterator was created at time "
                           f"{_stamp(position['at'])} while right now it is {_stamp(time.time())} which is further "
                           "in the future than the tolerated delay of 900000 milliseconds.", status=400)
        limit = params.get("Limit", 1000)
        records = self.platform.streams.read_stream(context.account_id, context.region, position["arn"],
                                                    position["after"], limit)
        if records is None:
            raise _not_found(f"Stream: {position['arn']} not found")
        after = records[-1]["dynamodb"]["SequenceNumber"] if records else position["after"]
        answer: dict[str, Any] = {"Records": records}
        description = self._describe(context, position["arn"])
        shard = description["Shards"][0]
        ending = shard["SequenceNumberRange"].get("EndingSequenceNumber")
        if ending is None or (after or "") < ending:
            answer["NextShardIterator"] = _encode({**position, "after": after, "at": time.time()})
        return answer


def _encode(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode()


def _decode(token: str) -> dict[str, Any]:
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(position, dict) or not {"arn", "shard", "after", "at"} <= position.keys():
            raise ValueError(token)
        return position
    except (ValueError, TypeError):
        raise _invalid_iterator() from None


def _stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"
