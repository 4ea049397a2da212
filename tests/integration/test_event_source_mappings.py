"""SQS event source mappings: batches, filters, partial failures, redrive, FIFO order, lifecycle."""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import wait_for

ROLE = "arn:aws:iam::000000000000:role/r"


@pytest.fixture
def lambda_client(server):
    return server.client("lambda")


@pytest.fixture
def sqs(server):
    return server.client("sqs")


def make_queue(sqs, fifo: bool = False, **attributes: str) -> tuple[str, str]:
    name = f"q-{uuid.uuid4().hex[:8]}" + (".fifo" if fifo else "")
    attrs = {"VisibilityTimeout": "30", **attributes}
    if fifo:
        attrs["FifoQueue"] = "true"
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def recorder(lambda_client, sink_url: str, extra: str = "") -> str:
    """A function that forwards each batch it gets to ``sink_url`` (and may fail some items)."""
    name = f"esm-{uuid.uuid4().hex[:8]}"
    source = textwrap.dedent(f"""
        import json, boto3
        SQS = boto3.client("sqs")

        def handler(event, context):
            bodies = [r["body"] for r in event["Records"]]
            SQS.send_message(QueueUrl={sink_url!r}, MessageBody=json.dumps({{
                "bodies": bodies, "source": event["Records"][0]["eventSource"],
                "arn": event["Records"][0]["eventSourceARN"], "keys": sorted(event["Records"][0])}}))
            {extra or "return None"}
    """)
    lambda_client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": make_zip({"app.py": source})}, Timeout=30)
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    return name


def batches(sqs, url: str, count: int, timeout: float = 60) -> list[dict]:
    seen: list[dict] = []

    def collected() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []):
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return sum(len(b["bodies"]) for b in seen) >= count

    wait_for(collected, timeout=timeout, interval=0, message=f"{count} records delivered")
    return seen


def wait_state(lambda_client, mapping_id: str, state: str) -> dict:
    return wait_for(lambda: (m := lambda_client.get_event_source_mapping(UUID=mapping_id))["State"] == state and m,
                    message=f"mapping {state}")


def test_batches_reach_the_function_and_are_deleted(lambda_client, sqs):
    source_url, source_arn = make_queue(sqs)
    sink_url, _ = make_queue(sqs)
    name = recorder(lambda_client, sink_url)
    mapping = lambda_client.create_event_source_mapping(EventSourceArn=source_arn, FunctionName=name, BatchSize=5)
    assert mapping["State"] == "Creating"
    assert mapping["BatchSize"] == 5
    wait_state(lambda_client, mapping["UUID"], "Enabled")
    for index in range(12):
        sqs.send_message(QueueUrl=source_url, MessageBody=f"m{index}")
    delivered = batches(sqs, sink_url, 12)
    assert sorted(b for batch in delivered for b in batch["bodies"]) == sorted(f"m{i}" for i in range(12))
    assert all(len(batch["bodies"]) <= 5 for batch in delivered)
    first = delivered[0]
    assert (first["source"], first["arn"]) == ("aws:sqs", source_arn)
    assert first["keys"] == sorted(["messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                                    "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"])
    wait_for(lambda: sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessagesNotVisible"] == "0", message="all source messages deleted")
    listed = lambda_client.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping["UUID"]]


def test_batching_window_gathers_messages_into_one_batch(lambda_client, sqs):
    source_url, source_arn = make_queue(sqs)
    sink_url, _ = make_queue(sqs)
    name = recorder(lambda_client, sink_url)
    # Two pollers (AWS's minimum concurrency), each gathering for 3 s from its first message on, as
    # each of AWS's pollers does: five messages sent one at a time arrive in at most two batches.
    mapping = lambda_client.create_event_source_mapping(EventSourceArn=source_arn, FunctionName=name, BatchSize=10,
                                                        MaximumBatchingWindowInSeconds=3,
                                                        ScalingConfig={"MaximumConcurrency": 2})
    assert mapping["MaximumBatchingWindowInSeconds"] == 3
    wait_state(lambda_client, mapping["UUID"], "Enabled")
    for index in range(5):  # one at a time: without a window each would travel alone
        sqs.send_message(QueueUrl=source_url, MessageBody=f"w{index}")
    delivered = batches(sqs, sink_url, 5)
    assert sorted(body for batch in delivered for body in batch["bodies"]) == [f"w{i}" for i in range(5)]
    assert len(delivered) <= 2, delivered


def test_maximum_concurrency_caps_the_batches_in_flight(lambda_client, sqs):
    source_url, source_arn = make_queue(sqs)
    sink_url, _ = make_queue(sqs)
    name = recorder(lambda_client, sink_url)
    slow = textwrap.dedent(f"""
        import json, time, boto3
        SQS = boto3.client("sqs")

        def handler(event, context):
            started = time.time()
            time.sleep(0.4)
            SQS.send_message(QueueUrl={sink_url!r}, MessageBody=json.dumps({{
                "bodies": [r["body"] for r in event["Records"]], "span": [started, time.time()]}}))
    """)
    lambda_client.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": slow}))
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    for index in range(10):
        sqs.send_message(QueueUrl=source_url, MessageBody=f"c{index}")
    mapping = lambda_client.create_event_source_mapping(EventSourceArn=source_arn, FunctionName=name, BatchSize=1,
                                                        ScalingConfig={"MaximumConcurrency": 2})
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    delivered = batches(sqs, sink_url, 10)
    spans = [batch["span"] for batch in delivered]
    # the most batches running at one moment: at the start of each batch, count those running
    overlap = max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)
    assert overlap == 2


def test_filter_criteria_drop_what_does_not_match(lambda_client, sqs):
    source_url, source_arn = make_queue(sqs)
    sink_url, _ = make_queue(sqs)
    name = recorder(lambda_client, sink_url)
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=source_arn, FunctionName=name,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]})
    wait_state(lambda_client, mapping["UUID"], "Enabled")
    for body in ({"kind": "order", "id": 1}, {"kind": "noise"}, "plain text", {"kind": "order", "id": 2}):
        sqs.send_message(QueueUrl=source_url, MessageBody=json.dumps(body) if isinstance(body, dict) else body)
    delivered = batches(sqs, sink_url, 2)
    assert sorted(json.loads(b)["id"] for batch in delivered for b in batch["bodies"]) == [1, 2]
    wait_for(lambda: sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessages"] == "0", message="filtered-out messages deleted")


def test_partial_batch_failures_return_only_the_failed_messages(lambda_client, sqs):
    dlq_url, dlq_arn = make_queue(sqs)
    source_url, source_arn = make_queue(sqs, VisibilityTimeout="3", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    sink_url, _ = make_queue(sqs)
    name = recorder(lambda_client, sink_url, extra=(
        'return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] '
        'if r["body"] == "bad"]}'))
    mapping = lambda_client.create_event_source_mapping(EventSourceArn=source_arn, FunctionName=name, BatchSize=10,
                                                        FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_state(lambda_client, mapping["UUID"], "Enabled")
    sqs.send_message_batch(QueueUrl=source_url, Entries=[{"Id": str(i), "MessageBody": body}
                                                         for i, body in enumerate(["good", "bad", "fine"])])
    delivered = batches(sqs, sink_url, 4, timeout=90)  # the bad one is tried once more, then dead-lettered
    bodies = [b for batch in delivered for b in batch["bodies"]]
    assert bodies.count("good") == 1 and bodies.count("fine") == 1 and bodies.count("bad") == 2
    moved = wait_for(lambda: sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages"), timeout=30,
                     message="the failing message in the DLQ")
    assert moved[0]["Body"] == "bad"


def test_fifo_queues_keep_group_order(lambda_client, sqs):
    source_url, source_arn = make_queue(sqs, fifo=True, ContentBasedDeduplication="true")
    sink_url, _ = make_queue(sqs)
    name = recorder(lambda_client, sink_url)
    mapping = lambda_client.create_event_source_mapping(EventSourceArn=source_arn, FunctionName=name, BatchSize=3)
    wait_state(lambda_client, mapping["UUID"], "Enabled")
    for index in range(9):
        sqs.send_message(QueueUrl=source_url, MessageBody=f"{index % 2}-{index}", MessageGroupId=str(index % 2))
    bodies = [b for batch in batches(sqs, sink_url, 9) for b in batch["bodies"]]
    for group in ("0", "1"):
        in_group = [b for b in bodies if b.startswith(group + "-")]
        assert in_group == sorted(in_group, key=lambda b: int(b.split("-")[1]))


def test_disable_enable_update_and_delete(lambda_client, sqs):
    source_url, source_arn = make_queue(sqs)
    sink_url, _ = make_queue(sqs)
    name = recorder(lambda_client, sink_url)
    mapping = lambda_client.create_event_source_mapping(EventSourceArn=source_arn, FunctionName=name, Enabled=False)
    assert wait_state(lambda_client, mapping["UUID"], "Disabled")["State"] == "Disabled"
    sqs.send_message(QueueUrl=source_url, MessageBody="waiting")
    assert sqs.receive_message(QueueUrl=sink_url, WaitTimeSeconds=1).get("Messages") is None
    updated = lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True, BatchSize=7)
    assert updated["State"] == "Updating" and updated["BatchSize"] == 7
    wait_state(lambda_client, mapping["UUID"], "Enabled")
    assert [b for batch in batches(sqs, sink_url, 1) for b in batch["bodies"]] == ["waiting"]
    assert lambda_client.delete_event_source_mapping(UUID=mapping["UUID"])["State"] == "Deleting"
    wait_for(lambda: not lambda_client.list_event_source_mappings(FunctionName=name)["EventSourceMappings"],
             message="mapping deleted")
    with pytest.raises(ClientError) as gone:
        lambda_client.get_event_source_mapping(UUID=mapping["UUID"])
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_invalid_mappings_are_rejected(lambda_client, sqs):
    _, arn = make_queue(sqs)
    _, fifo_arn = make_queue(sqs, fifo=True)
    name = recorder(lambda_client, "unused")
    cases = [
        ({"EventSourceArn": arn.replace(arn.split(":")[5], "missing")}, "NonExistentQueue"),
        ({"EventSourceArn": arn, "BatchSize": 100}, "Maximum batch window"),
        ({"EventSourceArn": fifo_arn, "BatchSize": 20}, "FIFO"),
        ({"EventSourceArn": arn, "FilterCriteria": {"Filters": [{"Pattern": "{not json"}]}}, "filter pattern"),
        ({"EventSourceArn": "arn:aws:kinesis:us-east-1:000000000000:stream/missing",
          "StartingPosition": "LATEST"}, "Stream not found"),
        ({"EventSourceArn": "arn:aws:mq:us-east-1:000000000000:broker:b:b-1"}, "not supported"),
    ]
    for arguments, message in cases:
        with pytest.raises(ClientError) as excinfo:
            lambda_client.create_event_source_mapping(FunctionName=name, **arguments)
        assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert message in excinfo.value.response["Error"]["Message"]
    lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    with pytest.raises(ClientError) as duplicate:
        lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    assert duplicate.value.response["Error"]["Code"] == "ResourceConflictException"
