"""Stream event source mappings with real functions, for Kinesis and DynamoDB Streams: AWS's
event shape, bisect to the poison record, retries exhausted to an on-failure destination,
partial batch responses checkpointing at the lowest failure, and kill -9 resume."""

from __future__ import annotations

import datetime
import itertools
import json
import re
import signal
import textwrap
import uuid

import pytest

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/r"


def make_queue(sqs) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def recorder(lambda_client, sink_url: str) -> str:
    """Forwards each batch's values to ``sink_url``; fails the batch holding "poison"; reports
    the record "report" as a batch item failure."""
    name = f"stream-{uuid.uuid4().hex[:8]}"
    source = textwrap.dedent(f"""
        import base64, json, boto3
        SQS = boto3.client("sqs")

        def value(record):
            if record["eventSource"] == "aws:kinesis":
                return base64.b64decode(record["kinesis"]["data"]).decode()
            return record["dynamodb"]["NewImage"]["v"]["S"]

        def sequence(record):
            return record.get("kinesis", record.get("dynamodb"))["sequenceNumber" if "kinesis" in record
                                                                   else "SequenceNumber"]

        def handler(event, context):
            values = [value(r) for r in event["Records"]]
            SQS.send_message(QueueUrl={sink_url!r}, MessageBody=json.dumps({{
                "values": values, "first": event["Records"][0]}}))
            if "poison" in values:
                raise RuntimeError("poison")
            return {{"batchItemFailures": [{{"itemIdentifier": sequence(r)}} for r in event["Records"]
                                           if value(r) == "report"]}}
    """)
    lambda_client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": make_zip({"app.py": source})}, Timeout=30)
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    return name


def drain(sqs, url: str, until, timeout: float = 60) -> list[dict]:
    seen: list[dict] = []

    def done() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []):
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return until(seen)

    wait_for(done, timeout=timeout, interval=0, message="deliveries")
    return seen


class KinesisSource:
    def __init__(self, server: CumuloServer) -> None:
        self.client = server.client("kinesis")
        self.name = f"s-{uuid.uuid4().hex[:8]}"
        self.client.create_stream(StreamName=self.name, ShardCount=1)
        self.arn = self.client.describe_stream_summary(StreamName=self.name)["StreamDescriptionSummary"]["StreamARN"]

    def put(self, values: list[str]) -> list[str]:
        answer = self.client.put_records(StreamName=self.name, Records=[
            {"Data": v.encode(), "PartitionKey": "k"} for v in values])
        return [r["SequenceNumber"] for r in answer["Records"]]


class TableSource:
    def __init__(self, server: CumuloServer) -> None:
        self.client = server.client("dynamodb")
        self.name = f"t-{uuid.uuid4().hex[:8]}"
        self.client.create_table(TableName=self.name, BillingMode="PAY_PER_REQUEST",
                                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                 StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        self.arn = self.client.describe_table(TableName=self.name)["Table"]["LatestStreamArn"]
        self.streams = server.client("dynamodbstreams")

    def put(self, values: list[str]) -> list[str]:
        for v in values:
            self.client.put_item(TableName=self.name, Item={"pk": {"S": uuid.uuid4().hex}, "v": {"S": v}})
        shard = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = self.streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard,
                                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        return [r["dynamodb"]["SequenceNumber"] for r in self.streams.get_records(ShardIterator=iterator)["Records"]]


SOURCES = {"kinesis": KinesisSource, "dynamodb": TableSource}


@pytest.fixture(scope="module")
def clients(server):
    return server.client("lambda"), server.client("sqs")


def values_of(batches: list[dict]) -> list[str]:
    return [v for batch in batches for v in batch["values"]]


@pytest.mark.parametrize("kind", SOURCES)
def test_records_arrive_in_order_in_aws_event_shape(server, clients, kind):
    lambda_client, sqs = clients
    source = SOURCES[kind](server)
    sink_url, _ = make_queue(sqs)
    name = recorder(lambda_client, sink_url)
    source.put(["a0", "a1"])
    lambda_client.create_event_source_mapping(EventSourceArn=source.arn, FunctionName=name, BatchSize=3,
                                              StartingPosition="TRIM_HORIZON")
    source.put([f"b{i}" for i in range(5)])
    batches = drain(sqs, sink_url, lambda seen: len(values_of(seen)) >= 7)
    assert values_of(batches) == ["a0", "a1", "b0", "b1", "b2", "b3", "b4"]
    assert max(len(b["values"]) for b in batches) <= 3
    first = batches[0]["first"]
    assert first["eventSourceARN"] == source.arn and first["awsRegion"] == "us-east-1"
    if kind == "kinesis":
        assert first["eventSource"] == "aws:kinesis" and first["eventName"] == "aws:kinesis:record"
        assert first["eventID"] == f"shardId-000000000000:{first['kinesis']['sequenceNumber']}"
        assert first["kinesis"]["partitionKey"] == "k" and first["kinesis"]["kinesisSchemaVersion"] == "1.0"
    else:
        assert first["eventSource"] == "aws:dynamodb" and first["eventName"] == "INSERT"


@pytest.mark.parametrize("kind", SOURCES)
def test_bisect_isolates_the_poison_record_and_sends_it_on_failure(server, clients, kind):
    lambda_client, sqs = clients
    source = SOURCES[kind](server)
    sink_url, _ = make_queue(sqs)
    failure_url, failure_arn = make_queue(sqs)
    name = recorder(lambda_client, sink_url)
    sequences = source.put(["r0", "r1", "poison", "r3"])
    lambda_client.create_event_source_mapping(
        EventSourceArn=source.arn, FunctionName=name, BatchSize=4, StartingPosition="TRIM_HORIZON",
        BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}})
    batches = drain(sqs, sink_url, lambda seen: len(seen) >= 6)
    assert [b["values"] for b in batches] == [["r0", "r1", "poison", "r3"], ["r0", "r1"], ["poison", "r3"],
                                              ["poison"], ["poison"], ["r3"]]
    record = drain(sqs, failure_url, lambda seen: len(seen) >= 1)[0]
    info = record["KinesisBatchInfo" if kind == "kinesis" else "DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequences[2], sequences[2], 1)
    assert info["streamArn"] == source.arn and info["shardId"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"].endswith(f":function:{name}")


@pytest.mark.parametrize("kind", SOURCES)
def test_partial_batch_response_checkpoints_at_the_lowest_failure(server, clients, kind):
    lambda_client, sqs = clients
    source = SOURCES[kind](server)
    sink_url, _ = make_queue(sqs)
    failure_url, failure_arn = make_queue(sqs)
    name = recorder(lambda_client, sink_url)
    sequences = source.put(["r0", "r1", "report", "r3"])
    lambda_client.create_event_source_mapping(
        EventSourceArn=source.arn, FunctionName=name, BatchSize=4, StartingPosition="TRIM_HORIZON",
        FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}})
    record = drain(sqs, failure_url, lambda seen: len(seen) >= 1)[0]
    batches = drain(sqs, sink_url, lambda seen: len(seen) >= 2)
    assert [b["values"] for b in batches] == [["r0", "r1", "report", "r3"], ["report", "r3"]]
    info = record["KinesisBatchInfo" if kind == "kinesis" else "DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (sequences[2], sequences[3])
    source.put(["after"])
    assert drain(sqs, sink_url, lambda seen: len(seen) >= 1)[0]["values"] == ["after"]


def test_records_given_up_go_to_an_s3_destination_under_aws_key_layout(server, clients):
    lambda_client, sqs = clients
    s3 = server.client("s3")
    bucket = f"failures-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    source = KinesisSource(server)
    sink_url, _ = make_queue(sqs)
    name = recorder(lambda_client, sink_url)
    sequence = source.put(["poison"])[0]
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=source.arn, FunctionName=name, StartingPosition="TRIM_HORIZON", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}})["UUID"]
    prefix = f"aws/lambda/{mapping}/shardId-000000000000/"
    objects = wait_for(lambda: s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents"), timeout=60,
                       message="on-failure object")
    assert re.fullmatch(re.escape(prefix) + r"\d{4}/\d{2}/\d{2}/\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}-[0-9a-f-]{36}",
                        objects[0]["Key"])
    record = json.loads(s3.get_object(Bucket=bucket, Key=objects[0]["Key"])["Body"].read())
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == sequence
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_parallelization_factor_runs_batches_at_once_and_keeps_each_key_in_order(server, clients):
    lambda_client, sqs = clients
    source = KinesisSource(server)
    sink_url, _ = make_queue(sqs)
    name = f"parallel-{uuid.uuid4().hex[:8]}"
    code = textwrap.dedent(f"""
        import base64, json, time, boto3
        SQS = boto3.client("sqs")

        def handler(event, context):
            started = time.time()
            time.sleep(1)
            SQS.send_message(QueueUrl={sink_url!r}, MessageBody=json.dumps({{
                "records": [[r["kinesis"]["partitionKey"], base64.b64decode(r["kinesis"]["data"]).decode()]
                            for r in event["Records"]], "start": started, "end": time.time()}}))
    """)
    lambda_client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": make_zip({"app.py": code})}, Timeout=30)
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    keys = ["alpha", "beta", "gamma", "delta"]
    source.client.put_records(StreamName=source.name, Records=[
        {"Data": f"{key}-{n}".encode(), "PartitionKey": key} for n in range(4) for key in keys])
    lambda_client.create_event_source_mapping(EventSourceArn=source.arn, FunctionName=name, BatchSize=2,
                                              StartingPosition="TRIM_HORIZON", ParallelizationFactor=4)
    batches = drain(sqs, sink_url, lambda seen: sum(len(b["records"]) for b in seen) >= 16, timeout=90)
    for key in keys:
        ordered = [value for batch in sorted(batches, key=lambda b: b["start"]) for k, value in batch["records"]
                   if k == key]
        assert ordered == [f"{key}-{n}" for n in range(4)]
    spans = sorted((b["start"], b["end"]) for b in batches)
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans)), spans
    assert max(len(b["records"]) for b in batches) <= 2


@pytest.mark.parametrize("kind", SOURCES)
def test_tumbling_window_state_passes_between_invokes_and_ends_with_a_final_invoke(server, clients, kind):
    lambda_client, sqs = clients
    source = SOURCES[kind](server)
    sink_url, _ = make_queue(sqs)
    name = f"window-{uuid.uuid4().hex[:8]}"
    code = textwrap.dedent(f"""
        import json, boto3
        SQS = boto3.client("sqs")

        def handler(event, context):
            count = event["state"].get("count", 0) + len(event["Records"])
            SQS.send_message(QueueUrl={sink_url!r}, MessageBody=json.dumps({{
                "final": event["isFinalInvokeForWindow"], "received": event["state"], "count": count,
                "window": event["window"], "shard": event["shardId"], "arn": event["eventSourceARN"]}}))
            return {{"state": {{"count": count}}}}
    """)
    lambda_client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": make_zip({"app.py": code})}, Timeout=30)
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    source.put([f"r{i}" for i in range(5)])
    lambda_client.create_event_source_mapping(EventSourceArn=source.arn, FunctionName=name, BatchSize=1,
                                              StartingPosition="TRIM_HORIZON", TumblingWindowInSeconds=2)
    invokes = drain(sqs, sink_url, lambda seen: sum(m["count"] for m in seen if m["final"]) >= 5)
    finals = [m for m in invokes if m["final"]]
    assert sum(m["count"] for m in finals) == 5  # every record counted once, in the window it arrived in
    assert any(m["received"].get("count", 0) >= 1 for m in invokes if not m["final"])  # state carried over
    assert all(m["arn"] == source.arn and m["shard"] for m in invokes)
    for m in finals:
        start = datetime.datetime.fromisoformat(m["window"]["start"].replace("Z", "+00:00"))
        end = datetime.datetime.fromisoformat(m["window"]["end"].replace("Z", "+00:00"))
        assert (end - start).total_seconds() == 2


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """A server of this module's own (killed with -9 below), with record ages scaled: 60 s is 3 s."""
    instance = CumuloServer(tmp_path_factory.mktemp("streams") / "data",
                            env={"CUMULO_RETRY_DELAY_SCALE": "0.05"}).start()
    yield instance
    instance.stop()


def test_records_older_than_the_maximum_age_are_given_up(own):
    lambda_client, sqs = own.client("lambda"), own.client("sqs")
    source = KinesisSource(own)
    sink_url, _ = make_queue(sqs)
    failure_url, failure_arn = make_queue(sqs)
    name = recorder(lambda_client, sink_url)
    sequence = source.put(["poison"])[0]
    lambda_client.create_event_source_mapping(
        EventSourceArn=source.arn, FunctionName=name, StartingPosition="TRIM_HORIZON", MaximumRetryAttempts=-1,
        MaximumRecordAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": failure_arn}})
    record = drain(sqs, failure_url, lambda seen: len(seen) >= 1)[0]
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == sequence
    source.put(["fine"])
    assert "fine" in values_of(drain(sqs, sink_url, lambda seen: "fine" in values_of(seen)))


def test_a_mapping_resumes_from_its_checkpoint_after_kill_9(own):
    lambda_client, sqs = own.client("lambda"), own.client("sqs")
    source = KinesisSource(own)
    sink_url, _ = make_queue(sqs)
    name = recorder(lambda_client, sink_url)
    lambda_client.create_event_source_mapping(EventSourceArn=source.arn, FunctionName=name, BatchSize=10,
                                              StartingPosition="LATEST")
    wait_for(lambda: lambda_client.list_event_source_mappings(FunctionName=name)["EventSourceMappings"][0][
        "State"] == "Enabled", message="mapping enabled")
    written = source.put(["a0", "a1", "a2"])
    before = values_of(drain(sqs, sink_url, lambda seen: len(values_of(seen)) >= 3))
    own.stop(signal.SIGKILL)
    own.start()
    source.client = own.client("kinesis")
    iterator = source.client.get_shard_iterator(StreamName=source.name, ShardId="shardId-000000000000",
                                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["SequenceNumber"] for r in source.client.get_records(ShardIterator=iterator)["Records"]] == written
    assert int(source.put(["b0", "b1"])[0]) > int(written[-1])
    after = values_of(drain(own.client("sqs"), sink_url, lambda seen: "b1" in values_of(seen)))
    assert before == ["a0", "a1", "a2"]
    assert after == ["b0", "b1"]  # the checkpoint was committed: nothing handled is sent again, nothing lost
