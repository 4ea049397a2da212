"""SQS through boto3 (the JSON protocol): queues, messages, visibility, delays, long polling,
dead-letter queues, move tasks, FIFO, batches and AWS's errors."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from cumulo.services.sqs.messages import attributes_md5, md5_hex
from tests.server import CumuloServer, wait_for


@pytest.fixture
def sqs(server):
    return server.client("sqs")


def unique(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(call) -> dict:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]


def arn_of(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


# ------------------------------------------------------------------ queues
def test_create_get_list_delete_queue(sqs, server):
    name = unique("life")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert url == f"{server.url}/000000000000/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    # Same name, same (or no) attributes: the existing queue.
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == url
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"] == url
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as caught:
        sqs.get_queue_url(QueueName=name)
    error = caught.value.response["Error"]
    assert error["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert error["QueryErrorCode"] == "QueueDoesNotExist"
    assert error["Message"] == "The specified queue does not exist."
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=name)


def test_create_queue_conflicts_and_immediate_recreation(sqs):
    """By default a deleted queue's name is free at once (sqs_queue_deleted_recently is off)."""
    name = unique("conflict")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
    with pytest.raises(sqs.exceptions.QueueNameExists) as caught:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "41"})
    assert caught.value.response["Error"]["Code"] == "QueueAlreadyExists"
    sqs.send_message(QueueUrl=url, MessageBody="old")
    sqs.delete_queue(QueueUrl=url)
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == url
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "30" and attributes["ApproximateNumberOfMessages"] == "0"


def test_recent_deletion_blocks_the_name_when_enabled(tmp_path):
    server = CumuloServer(tmp_path / "data", env={"CUMULO_SQS_QUEUE_DELETED_RECENTLY": "true"}).start()
    try:
        sqs = server.client("sqs")
        name = unique("recent")
        sqs.delete_queue(QueueUrl=sqs.create_queue(QueueName=name)["QueueUrl"])
        with pytest.raises(sqs.exceptions.QueueDeletedRecently) as caught:
            sqs.create_queue(QueueName=name)
        assert caught.value.response["Error"]["Message"] == (
            "You must wait 60 seconds after deleting a queue before you can create another with the same name.")
        assert sqs.create_queue(QueueName=unique("other"))["QueueUrl"]
    finally:
        server.stop()


@pytest.mark.parametrize("name,attributes,code", [
    ("bad name", {}, "InvalidParameterValue"),
    ("x" * 81, {}, "InvalidParameterValue"),
    ("plain.fifo", {}, "InvalidParameterValue"),
    ("nofifosuffix", {"FifoQueue": "true"}, "InvalidParameterValue"),
    ("ok-name", {"FifoQueue": "false"}, "InvalidAttributeName"),
    ("ok-name", {"ContentBasedDeduplication": "true"}, "InvalidAttributeName"),
    ("ok-name", {"VisibilityTimeout": "43201"}, "InvalidAttributeValue"),
    ("ok-name", {"MaximumMessageSize": "100"}, "InvalidAttributeValue"),
])
def test_create_queue_validation(sqs, name, attributes, code):
    assert error_of(lambda: sqs.create_queue(QueueName=name, Attributes=attributes))["Code"] == code


def test_list_queues_paginates_with_max_results(sqs):
    prefix = unique("page")
    urls = [sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(5)]
    seen, token = [], None
    while True:
        kwargs = {"QueueNamePrefix": prefix, "MaxResults": 2, **({"NextToken": token} if token else {})}
        page = sqs.list_queues(**kwargs)
        seen += page["QueueUrls"]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == sorted(urls)
    assert sqs.get_paginator("list_queues").paginate(QueueNamePrefix=prefix, PaginationConfig={"PageSize": 3}) \
        .build_full_result()["QueueUrls"] == sorted(urls)
    assert error_of(lambda: sqs.list_queues(MaxResults=1001))["Code"] == "InvalidParameterValue"


def test_queue_attributes_all_and_selected(sqs):
    url = sqs.create_queue(QueueName=unique("attrs"), Attributes={"DelaySeconds": "2"})["QueueUrl"]
    everything = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert everything["DelaySeconds"] == "2"
    assert everything["VisibilityTimeout"] == "30"
    assert everything["MaximumMessageSize"] == "1048576"
    assert everything["MessageRetentionPeriod"] == "345600"
    assert everything["ReceiveMessageWaitTimeSeconds"] == "0"
    assert everything["SqsManagedSseEnabled"] == "true"
    assert everything["ApproximateNumberOfMessages"] == "0"
    assert everything["QueueArn"].startswith("arn:aws:sqs:us-east-1:000000000000:attrs-")
    assert int(everything["CreatedTimestamp"]) <= int(time.time())
    assert "FifoQueue" not in everything
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)
    assert set(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])["Attributes"]) == {
        "DelaySeconds"}
    error = error_of(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Bogus"]))
    assert (error["Code"], error["Message"]) == ("InvalidAttributeName", "Unknown Attribute Bogus.")


def test_set_queue_attributes_policies_and_kms(sqs):
    url = sqs.create_queue(QueueName=unique("set"))["QueueUrl"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}]})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy, "VisibilityTimeout": "60",
                                                       "KmsMasterKeyId": "alias/aws/sqs"})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(got["Policy"]) == json.loads(policy)
    assert got["VisibilityTimeout"] == "60"
    assert got["KmsMasterKeyId"] == "alias/aws/sqs"
    assert got["KmsDataKeyReusePeriodSeconds"] == "300"
    assert got["SqsManagedSseEnabled"] == "false"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert error_of(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"QueueArn": "x"}))["Code"] == \
        "InvalidAttributeName"
    assert error_of(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": "{nope"}))["Code"] == \
        "InvalidAttributeValue"


def test_tags(sqs):
    url = sqs.create_queue(QueueName=unique("tags"), tags={"team": "a"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev", "team": "b"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "b", "env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["env"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)


def test_permissions_edit_the_policy(sqs):
    url = sqs.create_queue(QueueName=unique("perm"))["QueueUrl"]
    sqs.add_permission(QueueUrl=url, Label="l1", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Statement"][0]["Sid"] == "l1"
    assert policy["Statement"][0]["Action"] == "SQS:SendMessage"
    assert error_of(lambda: sqs.add_permission(QueueUrl=url, Label="l1", AWSAccountIds=["111122223333"],
                                               Actions=["SendMessage"]))["Code"] == "InvalidParameterValue"
    sqs.remove_permission(QueueUrl=url, Label="l1")
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])


# ------------------------------------------------------------------ messages
def test_send_receive_delete_with_attributes_and_md5s(sqs):
    url = sqs.create_queue(QueueName=unique("msg"))["QueueUrl"]
    attributes = {"s": {"DataType": "String", "StringValue": "v"},
                  "n": {"DataType": "Number.int", "StringValue": "42"},
                  "b": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}
    sent = sqs.send_message(QueueUrl=url, MessageBody="héllo", MessageAttributes=attributes,
                            MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String",
                                                                        "StringValue": "Root=1-5759e988-bd862e3fe"}})
    assert sent["MD5OfMessageBody"] == md5_hex("héllo")
    assert sent["MD5OfMessageAttributes"] == attributes_md5(attributes)
    assert sent["MD5OfMessageSystemAttributes"]
    received = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"],
                                   MessageSystemAttributeNames=["All"])["Messages"]
    assert len(received) == 1
    message = received[0]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "héllo"
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MessageAttributes"] == attributes
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    system = message["Attributes"]
    assert system["ApproximateReceiveCount"] == "1"
    assert system["AWSTraceHeader"] == "Root=1-5759e988-bd862e3fe"
    assert system["SenderId"] == "000000000000"
    assert abs(int(system["SentTimestamp"]) - time.time() * 1000) < 60_000
    assert int(system["ApproximateFirstReceiveTimestamp"]) >= int(system["SentTimestamp"])
    # Only the requested attributes come back, with the digest of those.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["s"], AttributeNames=["SentTimestamp"])
    only = again["Messages"][0]
    assert only["MessageAttributes"] == {"s": attributes["s"]}
    assert only["MD5OfMessageAttributes"] == attributes_md5({"s": attributes["s"]})
    assert set(only["Attributes"]) == {"SentTimestamp"}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=only["ReceiptHandle"])
    # A stale receipt handle on a standard queue is accepted; a garbage one is not.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=only["ReceiptHandle"])
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-receipt")
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_message_limits_and_contents(sqs):
    url = sqs.create_queue(QueueName=unique("limits"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1_048_576)
    error = error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x" * 1_048_577))
    assert (error["Code"], error["Message"]) == (
        "InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be shorter than "
                                 "1048576 bytes.")
    attribute = {"a": {"DataType": "String", "StringValue": "v"}}
    assert error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x" * 1_048_570,
                                             MessageAttributes=attribute))["Code"] == "InvalidParameterValue"
    assert error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="bad\x01"))["Code"] == \
        "InvalidMessageContents"
    assert error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody=""))["Code"] == "MissingParameter"
    assert error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901))["Code"] == \
        "InvalidParameterValue"
    assert error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={
        "AWS.reserved": {"DataType": "String", "StringValue": "v"}}))["Code"] == "InvalidParameterValue"
    small = sqs.create_queue(QueueName=unique("small"), Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    assert "1024 bytes" in error_of(lambda: sqs.send_message(QueueUrl=small, MessageBody="x" * 1025))["Message"]
    assert error_of(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11))["Message"] == (
        "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.")
    assert error_of(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21))["Code"] == \
        "InvalidParameterValue"


def test_visibility_timeout_hides_and_returns_messages(sqs):
    url = sqs.create_queue(QueueName=unique("vis"), Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    first = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    again = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, AttributeNames=["ApproximateReceiveCount"])
    second = again["Messages"][0]
    assert second["MessageId"] == first["MessageId"]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    # Extending visibility, then making it visible at once.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=100)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    third = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
    error = error_of(lambda: sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"],
                                                           VisibilityTimeout=10))
    assert error["Code"] == "AWS.SimpleQueueService.MessageNotInflight"
    error = error_of(lambda: sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"],
                                                           VisibilityTimeout=10))
    assert error["Code"] == "InvalidParameterValue"
    assert "Message does not exist or is not available for visibility timeout change" in error["Message"]


def test_delay_queue_and_per_message_delay(sqs):
    url = sqs.create_queue(QueueName=unique("delay"), Attributes={"DelaySeconds": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="queue-delay")
    sqs.send_message(QueueUrl=url, MessageBody="no-delay", DelaySeconds=0)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["no-delay"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    started = time.monotonic()
    later = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in later] == ["queue-delay"]
    # The poll answered when the 1 s delay ended, not at the end of its 5 s wait (bound kept generous for load).
    assert time.monotonic() - started < 4


def test_long_poll_answers_when_a_message_arrives(sqs):
    url = sqs.create_queue(QueueName=unique("poll"))["QueueUrl"]
    result: dict = {}

    def poll():
        result["started"] = time.monotonic()
        result["response"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
        result["returned"] = time.monotonic()

    thread = threading.Thread(target=poll)
    thread.start()
    wait_for(lambda: "started" in result, message="the poll to start")
    # A first, empty poll on another connection proves the server answers while the long poll waits.
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    sent_at = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="wake")
    thread.join(15)
    assert result["response"]["Messages"][0]["Body"] == "wake"
    # Answered on the send, not at the end of the 10 s wait (bound kept generous for load).
    assert result["returned"] - sent_at < 5


def test_long_poll_times_out_empty_and_uses_queue_default(sqs):
    url = sqs.create_queue(QueueName=unique("wait"), Attributes={"ReceiveMessageWaitTimeSeconds": "1"})["QueueUrl"]
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    # It waited the queue's 1 s default, not the 20 s maximum (upper bound kept generous for load).
    assert 0.9 < time.monotonic() - started < 10
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"ReceiveMessageWaitTimeSeconds": "20"})
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert time.monotonic() - started < 10  # an explicit 0 overrides the queue's 20 s default


def test_purge_queue_once_a_minute(sqs):
    url = sqs.create_queue(QueueName=unique("purge"))["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(3)])
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as caught:
        sqs.purge_queue(QueueUrl=url)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert caught.value.response["Error"]["Code"] == "AWS.SimpleQueueService.PurgeQueueInProgress"


# ------------------------------------------------------------------ batches
def test_batches_with_partial_failures(sqs):
    url = sqs.create_queue(QueueName=unique("batch"))["QueueUrl"]
    result = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok1", "MessageBody": "a"},
        {"Id": "bad", "MessageBody": "b", "DelaySeconds": 1000},
        {"Id": "ok2", "MessageBody": "c", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
    ])
    assert [e["Id"] for e in result["Successful"]] == ["ok1", "ok2"]
    assert result["Failed"] == [{"Id": "bad", "SenderFault": True, "Code": "InvalidParameterValue",
                                 "Message": "Value 1000 for parameter DelaySeconds is invalid. Reason: "
                                            "DelaySeconds must be >= 0 and <= 900."}]
    assert result["Successful"][1]["MD5OfMessageAttributes"] == attributes_md5(
        {"k": {"DataType": "String", "StringValue": "v"}})
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in received) == ["a", "c"]
    changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "x", "ReceiptHandle": received[0]["ReceiptHandle"], "VisibilityTimeout": 60},
        {"Id": "y", "ReceiptHandle": "garbage", "VisibilityTimeout": 60}])
    assert [e["Id"] for e in changed["Successful"]] == ["x"]
    assert changed["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)])
    assert len(deleted["Successful"]) == 2 and not deleted.get("Failed")


@pytest.mark.parametrize("entries,exception,code", [
    ([], "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest"),
    ([{"Id": str(i), "MessageBody": "x"} for i in range(11)], "TooManyEntriesInBatchRequest",
     "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
    ([{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}], "BatchEntryIdsNotDistinct",
     "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
    ([{"Id": "bad id!", "MessageBody": "x"}], "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId"),
    ([{"Id": "a", "MessageBody": "x" * 600_000}, {"Id": "b", "MessageBody": "y" * 600_000}], "BatchRequestTooLong",
     "AWS.SimpleQueueService.BatchRequestTooLong"),
])
def test_batch_request_errors(sqs, entries, exception, code):
    url = sqs.create_queue(QueueName="batch-errors")["QueueUrl"]
    with pytest.raises(getattr(sqs.exceptions, exception)) as caught:
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert caught.value.response["Error"]["Code"] == code


# ------------------------------------------------------------------ dead letters and moves
def test_redrive_to_dead_letter_queue_and_move_back(sqs):
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = arn_of(sqs, dlq)
    source = sqs.create_queue(QueueName=unique("src"), Attributes={
        "VisibilityTimeout": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    source_arn = arn_of(sqs, source)
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]
    sqs.send_message(QueueUrl=source, MessageBody="poison", MessageAttributes={
        "k": {"DataType": "String", "StringValue": "v"}})
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=source)["Messages"][0]["Body"] == "poison"
    assert "Messages" not in sqs.receive_message(QueueUrl=source)  # the third receive dead-letters it
    dead = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"], MessageAttributeNames=["All"],
                               WaitTimeSeconds=2, VisibilityTimeout=0)["Messages"][0]
    assert dead["Body"] == "poison"
    assert dead["Attributes"]["DeadLetterQueueSourceArn"] == source_arn
    assert dead["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    # Redrive back to the source queue.
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    wait_for(lambda: sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["Status"] == "COMPLETED",
             message="move task to complete")
    task = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"][0]
    assert task["ApproximateNumberOfMessagesMoved"] == 1
    assert task["ApproximateNumberOfMessagesToMove"] == 1
    assert "TaskHandle" not in task
    back = sqs.receive_message(QueueUrl=source, AttributeNames=["All"], WaitTimeSeconds=2)["Messages"][0]
    assert back["MessageId"] == dead["MessageId"]
    assert "DeadLetterQueueSourceArn" not in back["Attributes"]
    error = error_of(lambda: sqs.cancel_message_move_task(TaskHandle=handle))
    assert error["Code"] == "InvalidParameterValue"


def test_move_task_errors(sqs):
    plain = sqs.create_queue(QueueName=unique("plain"))["QueueUrl"]
    error = error_of(lambda: sqs.start_message_move_task(SourceArn=arn_of(sqs, plain)))
    assert error["Message"] == "Source queue must be configured as a Dead Letter Queue."
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.start_message_move_task(SourceArn="arn:aws:sqs:us-east-1:000000000000:nope")
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.list_message_move_tasks(SourceArn="arn:aws:sqs:us-east-1:000000000000:nope")


def test_move_task_to_explicit_destination_with_rate_and_cancel(sqs):
    dlq = sqs.create_queue(QueueName=unique("dlq2"))["QueueUrl"]
    dlq_arn = arn_of(sqs, dlq)
    sqs.create_queue(QueueName=unique("src2"), Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})
    target = sqs.create_queue(QueueName=unique("target"))["QueueUrl"]
    sqs.send_message_batch(QueueUrl=dlq, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(6)])
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=arn_of(sqs, target),
                                         MaxNumberOfMessagesPerSecond=2)["TaskHandle"]
    with pytest.raises(ClientError) as caught:
        sqs.start_message_move_task(SourceArn=dlq_arn)
    assert "already a task running" in caught.value.response["Error"]["Message"]
    running = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
    assert running["Status"] == "RUNNING" and running["TaskHandle"] == handle
    assert running["MaxNumberOfMessagesPerSecond"] == 2
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert moved < 6
    assert sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["Status"] == "CANCELLED"


def test_redrive_policy_validation(sqs):
    fifo_dlq = sqs.create_queue(QueueName=unique("fdlq") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, fifo_dlq), "maxReceiveCount": 1})
    assert error_of(lambda: sqs.create_queue(QueueName=unique("std"), Attributes={"RedrivePolicy": policy}))[
        "Code"] == "InvalidParameterValue"
    missing = json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:nope", "maxReceiveCount": 1})
    assert "does not exist" in error_of(lambda: sqs.create_queue(QueueName=unique("std"), Attributes={
        "RedrivePolicy": missing}))["Message"]
    deny = sqs.create_queue(QueueName=unique("deny"), Attributes={
        "RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})})["QueueUrl"]
    denied = json.dumps({"deadLetterTargetArn": arn_of(sqs, deny), "maxReceiveCount": 1})
    assert error_of(lambda: sqs.create_queue(QueueName=unique("std"), Attributes={"RedrivePolicy": denied}))[
        "Code"] == "InvalidParameterValue"


# ------------------------------------------------------------------ FIFO
def test_fifo_ordering_groups_and_deduplication(sqs):
    url = sqs.create_queue(QueueName=unique("order") + ".fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "30"})["QueueUrl"]
    sequences = []
    for i in range(3):
        for group in ("a", "b"):
            sent = sqs.send_message(QueueUrl=url, MessageBody=f"{group}{i}", MessageGroupId=group,
                                    MessageDeduplicationId=f"{group}{i}")
            sequences.append(int(sent["SequenceNumber"]))
    assert sequences == sorted(sequences)
    duplicate = sqs.send_message(QueueUrl=url, MessageBody="a0 again", MessageGroupId="a",
                                 MessageDeduplicationId="a0")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"])["Messages"][0]
    assert first["Body"] == "a0"
    assert duplicate["MessageId"] == first["MessageId"]
    assert first["Attributes"]["MessageGroupId"] == "a"
    assert first["Attributes"]["MessageDeduplicationId"] == "a0"
    assert first["Attributes"]["SequenceNumber"] == str(sequences[0])
    # Group "a" is blocked while a0 is in flight: only group "b" comes out, in order.
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["b0", "b1", "b2"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    after = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in after] == ["a1", "a2"]
    # A FIFO queue refuses an expired (or reused) receipt handle.
    error = error_of(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"]))
    assert error["Code"] == "InvalidParameterValue"
    assert error["Message"].endswith("Reason: The receipt handle has expired.")


def test_fifo_content_based_dedup_and_required_parameters(sqs):
    url = sqs.create_queue(QueueName=unique("cbd") + ".fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    one = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    two = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    assert one["MessageId"] == two["MessageId"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "1"
    assert error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"))["Code"] == "MissingParameter"
    assert error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g",
                                             DelaySeconds=5))["Code"] == "InvalidParameterValue"
    plain = sqs.create_queue(QueueName=unique("nocbd") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    error = error_of(lambda: sqs.send_message(QueueUrl=plain, MessageBody="x", MessageGroupId="g"))
    assert error["Message"] == ("The queue should either have ContentBasedDeduplication enabled or "
                                "MessageDeduplicationId provided explicitly")
    standard = sqs.create_queue(QueueName=unique("std"))["QueueUrl"]
    assert error_of(lambda: sqs.send_message(QueueUrl=standard, MessageBody="x",
                                             MessageDeduplicationId="d"))["Code"] == "InvalidParameterValue"


def test_fifo_high_throughput_attributes_and_group_scoped_dedup(sqs):
    url = sqs.create_queue(QueueName=unique("ht") + ".fifo", Attributes={
        "FifoQueue": "true", "DeduplicationScope": "messageGroup",
        "FifoThroughputLimit": "perMessageGroupId"})["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "false"
    assert attributes["DeduplicationScope"] == "messageGroup"
    assert attributes["FifoThroughputLimit"] == "perMessageGroupId"
    # The same deduplication id in two groups is two messages when deduplication is per group.
    a = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g1", MessageDeduplicationId="d")
    b = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g2", MessageDeduplicationId="d")
    assert a["MessageId"] != b["MessageId"]
    error = error_of(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "false"}))
    assert error["Code"] == "InvalidAttributeValue"


def test_fifo_dead_letter_queue_keeps_group(sqs):
    dlq = sqs.create_queue(QueueName=unique("fd") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    source = sqs.create_queue(QueueName=unique("fs") + ".fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 1})})["QueueUrl"]
    sqs.send_message(QueueUrl=source, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="1")
    assert sqs.receive_message(QueueUrl=source)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=source)
    dead = sqs.receive_message(QueueUrl=dlq, AttributeNames=["MessageGroupId"])["Messages"][0]
    assert dead["Attributes"]["MessageGroupId"] == "g"


# ------------------------------------------------------------------ URLs
def test_queue_url_from_any_host_and_invalid_addresses(sqs, server):
    name = unique("host")
    sqs.create_queue(QueueName=name)
    other_host = f"http://localhost:{server.port}/000000000000/{name}"
    sqs.send_message(QueueUrl=other_host, MessageBody="via localhost")
    assert sqs.receive_message(QueueUrl=other_host)["Messages"][0]["Body"] == "via localhost"
    error = error_of(lambda: sqs.send_message(QueueUrl="just-a-name", MessageBody="x"))
    assert (error["Code"], error["Message"]) == ("InvalidAddress",
                                                 "The address just-a-name is not valid for this endpoint.")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=f"{server.url}/000000000000/{unique('none')}", MessageBody="x")


def test_fifo_receive_request_attempt_id_replays_the_same_answer(sqs):
    url = sqs.create_queue(QueueName=unique("attempt") + ".fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for body in ("one", "two", "three"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=body)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="try-1")["Messages"]
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="try-1")["Messages"]
    assert [(m["MessageId"], m["ReceiptHandle"]) for m in again] == [(m["MessageId"], m["ReceiptHandle"])
                                                                      for m in first]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    # Once a message of the answer changed, the attempt id no longer replays it.
    fresh = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, ReceiveRequestAttemptId="try-1")["Messages"]
    assert [m["Body"] for m in fresh] == ["three"]
    assert error_of(lambda: sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="bad id"))["Code"] == \
        "InvalidParameterValue"
