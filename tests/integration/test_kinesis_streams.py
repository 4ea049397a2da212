"""Kinesis Data Streams through boto3: streams and shards, MD5 placement, PutRecords,
every iterator type, resharding lineage, retention, tags and throughput limits (records surviving
kill -9: test_stream_mappings.py)."""

from __future__ import annotations

import datetime
import hashlib
import json
import time
import urllib.error
import urllib.request
import uuid

import cbor2
import pytest
from botocore.exceptions import ClientError

from tests.server import wait_for


@pytest.fixture(scope="module")
def kinesis(server):
    return server.client("kinesis")


def new_stream(kinesis, shards: int = 2) -> str:
    name = f"s-{uuid.uuid4().hex[:10]}"
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1})
    return name


def read_shard(kinesis, name: str, shard: str, kind: str = "TRIM_HORIZON", **extra) -> list[dict]:
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType=kind,
                                          **extra)["ShardIterator"]
    found: list[dict] = []
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator, Limit=3)
        found += page["Records"]
        if not page["Records"]:
            break
        iterator = page.get("NextShardIterator")
    return found


def error_of(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_create_describe_list_delete(kinesis):
    name = new_stream(kinesis, shards=3)
    description = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert description["StreamStatus"] == "ACTIVE"
    assert description["StreamARN"].startswith("arn:aws:kinesis:us-east-1:")
    assert description["StreamARN"].endswith(f":stream/{name}")
    ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
              for s in description["Shards"]]
    assert ranges[0][0] == 0 and ranges[-1][1] == 2 ** 128 - 1
    assert all(ranges[i][1] + 1 == ranges[i + 1][0] for i in range(len(ranges) - 1))
    assert [s["ShardId"] for s in description["Shards"]] == [f"shardId-00000000000{i}" for i in range(3)]
    summary = kinesis.describe_stream_summary(StreamARN=description["StreamARN"])["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3 and summary["RetentionPeriodHours"] == 24
    assert name in kinesis.list_streams(Limit=1000)["StreamNames"]
    code, message = error_of(lambda: kinesis.create_stream(StreamName=name, ShardCount=1))
    assert code == "ResourceInUseException" and "already exists" in message
    kinesis.delete_stream(StreamName=name)
    code, message = error_of(lambda: kinesis.describe_stream(StreamName=name))
    assert code == "ResourceNotFoundException" and message.startswith(f"Stream {name} under account")


def test_partition_keys_hash_to_shards_by_md5_and_keep_order(kinesis):
    name = new_stream(kinesis, shards=4)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    keys = [f"key-{i}" for i in range(20)]
    answer = kinesis.put_records(StreamName=name, Records=[
        {"Data": f"{key}:{n}".encode(), "PartitionKey": key} for n in range(2) for key in keys])
    assert answer["FailedRecordCount"] == 0
    for key, result in zip(keys * 2, answer["Records"], strict=True):
        hashed = int(hashlib.md5(key.encode()).hexdigest(), 16)
        owner = next(s["ShardId"] for s in shards if int(s["HashKeyRange"]["StartingHashKey"]) <= hashed
                     <= int(s["HashKeyRange"]["EndingHashKey"]))
        assert result["ShardId"] == owner
    for shard in shards:
        got = read_shard(kinesis, name, shard["ShardId"])
        sequences = [int(r["SequenceNumber"]) for r in got]
        assert sequences == sorted(sequences)
        for key in {r["PartitionKey"] for r in got}:
            assert [r["Data"] for r in got if r["PartitionKey"] == key] == [f"{key}:0".encode(), f"{key}:1".encode()]
    assert sum(len(read_shard(kinesis, name, s["ShardId"])) for s in shards) == 40
    explicit = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="any", ExplicitHashKey=str(2 ** 128 - 1))
    assert explicit["ShardId"] == shards[-1]["ShardId"]


def test_iterator_types(kinesis):
    name = new_stream(kinesis, shards=1)
    shard = "shardId-000000000000"
    first = [kinesis.put_record(StreamName=name, Data=f"a{i}".encode(), PartitionKey="k") for i in range(3)]
    latest = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=latest)["Records"] == []
    time.sleep(0.05)
    middle = datetime.datetime.now(datetime.UTC)
    time.sleep(0.05)
    kinesis.put_record(StreamName=name, Data=b"b0", PartitionKey="k")
    page = kinesis.get_records(ShardIterator=latest)
    assert [r["Data"] for r in page["Records"]] == [b"b0"]
    assert page["MillisBehindLatest"] == 0
    assert [r["Data"] for r in read_shard(kinesis, name, shard)] == [b"a0", b"a1", b"a2", b"b0"]
    at = read_shard(kinesis, name, shard, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=first[1]["SequenceNumber"])
    after = read_shard(kinesis, name, shard, "AFTER_SEQUENCE_NUMBER",
                       StartingSequenceNumber=first[1]["SequenceNumber"])
    assert [r["Data"] for r in at] == [b"a1", b"a2", b"b0"] and [r["Data"] for r in after] == [b"a2", b"b0"]
    assert [r["Data"] for r in read_shard(kinesis, name, shard, "AT_TIMESTAMP", Timestamp=middle)] == [b"b0"]
    limited = kinesis.get_records(ShardIterator=kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"], Limit=1)
    assert limited["MillisBehindLatest"] >= 0 and len(limited["Records"]) == 1
    code, _ = error_of(lambda: kinesis.get_records(ShardIterator="not-an-iterator"))
    assert code == "InvalidArgumentException"
    code, _ = error_of(lambda: kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000009",
                                                          ShardIteratorType="LATEST"))
    assert code == "ResourceNotFoundException"


def test_split_and_merge_keep_lineage_and_close_parents(kinesis):
    name = new_stream(kinesis, shards=1)
    kinesis.put_record(StreamName=name, Data=b"before", PartitionKey="k")
    kinesis.split_shard(StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2 ** 127))
    shards = {s["ShardId"]: s for s in kinesis.list_shards(StreamName=name)["Shards"]}
    assert "EndingSequenceNumber" in shards["shardId-000000000000"]["SequenceNumberRange"]
    assert shards["shardId-000000000001"]["ParentShardId"] == "shardId-000000000000"
    assert shards["shardId-000000000002"]["HashKeyRange"]["StartingHashKey"] == str(2 ** 127)
    # reading the closed parent to its end gives the children instead of a next iterator
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    page = kinesis.get_records(ShardIterator=iterator)
    assert [r["Data"] for r in page["Records"]] == [b"before"]
    assert "NextShardIterator" not in page
    assert {c["ShardId"] for c in page["ChildShards"]} == {"shardId-000000000001", "shardId-000000000002"}
    code, _ = error_of(lambda: kinesis.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                                                   NewStartingHashKey="5"))
    assert code == "ResourceInUseException"
    kinesis.merge_shards(StreamName=name, ShardToMerge="shardId-000000000001",
                         AdjacentShardToMerge="shardId-000000000002")
    latest = kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert [(s["ShardId"], s["ParentShardId"], s["AdjacentParentShardId"]) for s in latest] == [
        ("shardId-000000000003", "shardId-000000000001", "shardId-000000000002")]
    assert kinesis.put_record(StreamName=name, Data=b"after", PartitionKey="k")["ShardId"] == "shardId-000000000003"
    answer = kinesis.update_shard_count(StreamName=name, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    assert (answer["CurrentShardCount"], answer["TargetShardCount"]) == (1, 2)
    assert len(kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]) == 2
    code, _ = error_of(lambda: kinesis.update_shard_count(StreamName=name, TargetShardCount=5,
                                                          ScalingType="UNIFORM_SCALING"))
    assert code == "InvalidArgumentException"


def test_list_shards_pages_with_next_token(kinesis):
    name = new_stream(kinesis, shards=5)
    first = kinesis.list_shards(StreamName=name, MaxResults=2)
    second = kinesis.list_shards(NextToken=first["NextToken"], MaxResults=10)
    assert [s["ShardId"] for s in first["Shards"] + second["Shards"]] == [f"shardId-00000000000{i}" for i in range(5)]
    assert "NextToken" not in second


def test_retention_and_tags(kinesis):
    name = new_stream(kinesis, shards=1)
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    code, message = error_of(lambda: kinesis.decrease_stream_retention_period(StreamName=name,
                                                                              RetentionPeriodHours=12))
    assert code == "InvalidArgumentException" and "too short" in message
    code, _ = error_of(lambda: kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=30))
    assert code == "InvalidArgumentException"
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["RetentionPeriodHours"] == 48
    kinesis.add_tags_to_stream(StreamName=name, Tags={"team": "a", "env": "dev"})
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["env"])
    assert kinesis.list_tags_for_stream(StreamName=name)["Tags"] == [{"Key": "team", "Value": "a"}]
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    kinesis.tag_resource(ResourceARN=arn, Tags={"cost": "c1"})
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "cost", "Value": "c1"}]


def test_on_demand_streams(kinesis):
    name = f"s-{uuid.uuid4().hex[:10]}"
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"]["StreamMode"] == "ON_DEMAND" and summary["OpenShardCount"] == 4
    code, _ = error_of(lambda: kinesis.update_shard_count(StreamName=name, TargetShardCount=2,
                                                          ScalingType="UNIFORM_SCALING"))
    assert code == "InvalidArgumentException"


def test_a_shard_over_its_write_limit_is_throttled_per_record(kinesis):
    name = new_stream(kinesis, shards=1)
    big = b"x" * (512 * 1024)
    results = []
    for _ in range(2):  # three 512 KiB records in the same second exceed 1 MiB/s
        results += kinesis.put_records(StreamName=name, Records=[{"Data": big, "PartitionKey": "k"}] * 3)["Records"]
        if any("ErrorCode" in r for r in results):
            break
    assert any(r.get("ErrorCode") == "ProvisionedThroughputExceededException" for r in results)
    assert "Rate exceeded for shard shardId-000000000000" in next(r["ErrorMessage"] for r in results
                                                                   if "ErrorCode" in r)


def test_an_eventbridge_rule_puts_events_on_a_stream(server, kinesis):
    name = new_stream(kinesis, shards=1)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    events = server.client("events")
    rule = f"r-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=rule, EventPattern='{"source": ["kinesis.test"]}')
    events.put_targets(Rule=rule, Targets=[{"Id": "stream", "Arn": arn}])
    events.put_events(Entries=[{"Source": "kinesis.test", "DetailType": "t", "Detail": '{"n": 1}'}])
    got = wait_for(lambda: read_shard(kinesis, name, "shardId-000000000000"), timeout=30, message="event on stream")
    assert json.loads(got[0]["Data"])["detail"] == {"n": 1}


def test_cbor_clients_are_answered_in_cbor(server, kinesis):
    """The Java SDK v1 and the KCL speak JSON-RPC with CBOR bodies (application/x-amz-cbor-1.1)."""
    name = new_stream(kinesis, shards=1)

    def call(operation: str, body: dict) -> tuple[int, str, dict]:
        request = urllib.request.Request(server.url + "/", data=cbor2.dumps(body), method="POST", headers={
            "Content-Type": "application/x-amz-cbor-1.1", "X-Amz-Target": f"Kinesis_20131202.{operation}",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kinesis/aws4_request, "
                             "SignedHeaders=host, Signature=00"})
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, answer.headers["Content-Type"], cbor2.loads(answer.read())
        except urllib.error.HTTPError as failure:
            return failure.code, failure.headers["Content-Type"], cbor2.loads(failure.read())

    status, kind, put = call("PutRecord", {"StreamName": name, "Data": b"\x00binary", "PartitionKey": "k"})
    assert (status, kind) == (200, "application/x-amz-cbor-1.1") and put["ShardId"] == "shardId-000000000000"
    _, _, iterator = call("GetShardIterator", {"StreamName": name, "ShardId": put["ShardId"],
                                               "ShardIteratorType": "TRIM_HORIZON"})
    _, _, page = call("GetRecords", {"ShardIterator": iterator["ShardIterator"]})
    record = page["Records"][0]
    assert record["Data"] == b"\x00binary" and record["SequenceNumber"] == put["SequenceNumber"]
    assert isinstance(record["ApproximateArrivalTimestamp"], datetime.datetime)
    status, _, error = call("DescribeStream", {"StreamName": "missing-stream"})
    assert status == 400 and error["__type"] == "ResourceNotFoundException"


def test_enhanced_fan_out_consumers_register_and_deregister(kinesis):
    name = new_stream(kinesis, shards=1)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"]
    assert consumer["ConsumerARN"].startswith(f"{arn}/consumer/app:") and consumer["ConsumerStatus"] == "ACTIVE"
    code, _ = error_of(lambda: kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="app"))
    assert code == "ResourceInUseException"
    described = kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])["ConsumerDescription"]
    assert described["StreamARN"] == arn and described["ConsumerName"] == "app"
    assert [c["ConsumerName"] for c in kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]] == ["app"]
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["ConsumerCount"] == 1
    code, _ = error_of(lambda: kinesis.delete_stream(StreamName=name))
    assert code == "ResourceInUseException"
    kinesis.deregister_stream_consumer(StreamARN=arn, ConsumerName="app")
    code, _ = error_of(lambda: kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"]))
    assert code == "ResourceNotFoundException"
    kinesis.delete_stream(StreamName=name)
