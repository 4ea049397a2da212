"""DynamoDB Streams through boto3: records for every view type, iterator types, TTL expiry as a
service REMOVE, and kill -9 during a write burst keeps items and stream records consistent."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.integration.dynamodb_support import error_of, make_table
from tests.server import CumuloServer, wait_for


@pytest.fixture(scope="module")
def ddb(server):
    return server.client("dynamodb")


@pytest.fixture(scope="module")
def streams(server):
    return server.client("dynamodbstreams")


def stream_table(ddb, view: str) -> tuple[str, str]:
    name = make_table(ddb, StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    return name, ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def all_records(streams, arn: str, iterator_type: str = "TRIM_HORIZON", limit: int = 2, **extra) -> list[dict]:
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=iterator_type,
                                          **extra)["ShardIterator"]
    records = []
    while True:
        page = streams.get_records(ShardIterator=iterator, Limit=limit)
        records += page["Records"]
        if not page["Records"]:
            return records
        iterator = page["NextShardIterator"]


def change_item(ddb, name: str) -> None:
    item_key = {"pk": {"S": "k"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=name, Item={**item_key, "v": {"N": "1"}})
    ddb.update_item(TableName=name, Key=item_key, UpdateExpression="SET v = :two",
                    ExpressionAttributeValues={":two": {"N": "2"}})
    ddb.delete_item(TableName=name, Key=item_key)


@pytest.mark.parametrize("view, new_images, old_images", [
    ("KEYS_ONLY", [None, None, None], [None, None, None]),
    ("NEW_IMAGE", ["1", "2", None], [None, None, None]),
    ("OLD_IMAGE", [None, None, None], [None, "1", "2"]),
    ("NEW_AND_OLD_IMAGES", ["1", "2", None], [None, "1", "2"]),
])
def test_records_of_every_view_type(ddb, streams, view, new_images, old_images):
    name, arn = stream_table(ddb, view)
    change_item(ddb, name)
    records = all_records(streams, arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "us-east-1"
        assert record["dynamodb"]["Keys"] == {"pk": {"S": "k"}, "sk": {"N": "1"}}
        assert record["dynamodb"]["StreamViewType"] == view
        assert record["dynamodb"]["SizeBytes"] > 0
    assert [r["dynamodb"].get("NewImage", {}).get("v", {}).get("N") for r in records] == new_images
    assert [r["dynamodb"].get("OldImage", {}).get("v", {}).get("N") for r in records] == old_images
    sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3


def test_iterator_types_and_stream_listing(ddb, streams):
    name, arn = stream_table(ddb, "NEW_IMAGE")
    change_item(ddb, name)
    first, second, third = (r["dynamodb"]["SequenceNumber"] for r in all_records(streams, arn))
    assert [r["dynamodb"]["SequenceNumber"] for r in all_records(
        streams, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=second)] == [second, third]
    assert [r["dynamodb"]["SequenceNumber"] for r in all_records(
        streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=second)] == [third]
    assert all_records(streams, arn, "LATEST") == []
    listed = streams.list_streams(TableName=name)["Streams"]
    assert listed == [{"StreamArn": arn, "TableName": name, "StreamLabel": arn.rsplit("/", 1)[1]}]
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert (description["StreamStatus"], description["StreamViewType"]) == ("ENABLED", "NEW_IMAGE")
    assert description["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"] == first
    error = error_of(lambda: streams.describe_stream(StreamArn=arn + "x"))
    assert error["Code"] == "ResourceNotFoundException"
    error = error_of(lambda: streams.get_records(ShardIterator="garbage"))
    assert error["Code"] == "ValidationException"
    # Disabling closes the stream: its shard gets an ending sequence number, reading it ends.
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    closed = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert closed["StreamStatus"] == "DISABLED"
    assert closed["Shards"][0]["SequenceNumberRange"]["EndingSequenceNumber"] == third
    shard = closed["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    page = streams.get_records(ShardIterator=iterator["ShardIterator"])
    assert len(page["Records"]) == 3 and "NextShardIterator" not in page


def test_ttl_expiry_deletes_and_streams_a_service_remove(ddb, streams):
    name, arn = stream_table(ddb, "NEW_AND_OLD_IMAGES")
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    past, future = int(time.time()) - 10, int(time.time()) + 3600
    ddb.put_item(TableName=name, Item={"pk": {"S": "old"}, "sk": {"N": "1"}, "expires": {"N": str(past)}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "new"}, "sk": {"N": "1"}, "expires": {"N": str(future)}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "none"}, "sk": {"N": "1"}, "expires": {"S": "not a number"}})
    wait_for(lambda: "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "old"}, "sk": {"N": "1"}}),
             timeout=10, message="the expired item to be deleted")
    assert ddb.scan(TableName=name)["Count"] == 2
    removes = [r for r in all_records(streams, arn) if r["eventName"] == "REMOVE"]
    assert len(removes) == 1
    assert removes[0]["userIdentity"] == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
    assert removes[0]["dynamodb"]["OldImage"]["pk"] == {"S": "old"}


def test_kill_9_during_write_burst_keeps_items_and_records_consistent(tmp_path):
    instance = CumuloServer(tmp_path / "data").start()
    try:
        client = instance.client("dynamodb")
        name, arn = stream_table(client, "KEYS_ONLY")
        acknowledged: list[str] = []
        stop = threading.Event()

        def writer(prefix: str) -> None:
            local = instance.client("dynamodb")
            for i in range(100000):
                if stop.is_set():
                    return
                try:
                    local.put_item(TableName=name, Item={"pk": {"S": f"{prefix}-{i}"}, "sk": {"N": "1"}})
                except (ClientError, EndpointConnectionError, Exception):
                    return
                acknowledged.append(f"{prefix}-{i}")

        threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(acknowledged) >= 100, timeout=30, message="a burst of writes")
        instance.stop(signal.SIGKILL)
        stop.set()
        for thread in threads:
            thread.join()
        instance.start()
        client = instance.client("dynamodb")
        stored = set()
        for page in client.get_paginator("scan").paginate(TableName=name):
            stored |= {item["pk"]["S"] for item in page["Items"]}
        assert set(acknowledged) <= stored
        records = all_records(instance.client("dynamodbstreams"), arn, limit=1000)
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]
        assert sorted(keys) == sorted(stored)  # one INSERT per stored item, none lost or extra
    finally:
        instance.stop()
