"""S3 event notifications end to end: a real function, a queue, a topic and the default event bus
receive AWS's event shapes for object changes, after the configuration is checked (queues get
the s3:TestEvent)."""

from __future__ import annotations

import json
import textwrap
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import wait_for

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
FORWARDER = """
import json
import os

import boto3


def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(event))
"""


@pytest.fixture(scope="module")
def clients(server) -> dict[str, Any]:
    return {name: server.client(name) for name in ("s3", "sqs", "sns", "lambda", "events")}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_queue(sqs) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("s3-events"))["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receive(sqs, url: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The next ``count`` message bodies (JSON) from ``url``."""
    bodies: list[dict[str, Any]] = []

    def more() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(bodies) >= count

    wait_for(more, timeout=timeout, message=f"{count} messages on {url}")
    return bodies


def filters(prefix: str = "", suffix: str = "") -> dict[str, Any]:
    rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v]
    return {"Key": {"FilterRules": rules}}


def test_a_queue_gets_the_test_event_then_filtered_records(clients):
    s3, sqs = clients["s3"], clients["sqs"]
    bucket = unique("notify-queue")
    s3.create_bucket(Bucket=bucket)
    url, arn = make_queue(sqs)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
        {"Id": "uploads", "QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
         "Filter": filters(prefix="in/", suffix=".csv")}]})
    (test_event,) = receive(sqs, url, 1)
    assert test_event["Event"] == "s3:TestEvent" and test_event["Bucket"] == bucket
    stored = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert stored[0]["Id"] == "uploads" and stored[0]["QueueArn"] == arn
    s3.put_object(Bucket=bucket, Key="in/skipped.txt", Body=b"no")  # suffix does not match
    s3.put_object(Bucket=bucket, Key="out/skipped.csv", Body=b"no")  # prefix does not match
    etag = s3.put_object(Bucket=bucket, Key="in/a b.csv", Body=b"a,b")["ETag"].strip('"')
    s3.copy_object(Bucket=bucket, Key="in/copy.csv", CopySource={"Bucket": bucket, "Key": "in/a b.csv"})
    s3.delete_object(Bucket=bucket, Key="in/copy.csv")
    events = receive(sqs, url, 3)
    records = [e["Records"][0] for e in events]
    assert sorted(r["eventName"] for r in records) == ["ObjectCreated:Copy", "ObjectCreated:Put",
                                                      "ObjectRemoved:Delete"]
    put = next(r for r in records if r["eventName"] == "ObjectCreated:Put")
    assert put["eventSource"] == "aws:s3" and put["eventVersion"] == "2.1" and put["awsRegion"] == "us-east-1"
    assert put["s3"]["configurationId"] == "uploads"
    assert put["s3"]["bucket"] == {"name": bucket, "ownerIdentity": {"principalId": "000000000000"},
                                   "arn": f"arn:aws:s3:::{bucket}"}
    assert put["s3"]["object"]["key"] == "in/a+b.csv"  # URL-encoded as AWS sends it
    assert (put["s3"]["object"]["size"], put["s3"]["object"]["eTag"]) == (3, etag)
    assert put["s3"]["object"]["sequencer"]
    removed = next(r for r in records if r["eventName"] == "ObjectRemoved:Delete")
    assert "size" not in removed["s3"]["object"]
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None


def test_a_topic_and_versioned_deletes(clients):
    s3, sqs, sns = clients["s3"], clients["sqs"], clients["sns"]
    bucket = unique("notify-topic")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    topic = sns.create_topic(Name=unique("s3-topic"))["TopicArn"]
    url, arn = make_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"TopicConfigurations": [
        {"TopicArn": topic, "Events": ["s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectTagging:*",
                                       "s3:ObjectRestore:*"]}]})
    assert receive(sqs, url, 1)[0]["Event"] == "s3:TestEvent"
    version = s3.put_object(Bucket=bucket, Key="doc", Body=b"x")["VersionId"]
    s3.put_object_tagging(Bucket=bucket, Key="doc", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    marker = s3.delete_object(Bucket=bucket, Key="doc")["VersionId"]
    s3.put_object(Bucket=bucket, Key="archived", Body=b"cold", StorageClass="GLACIER")
    with pytest.raises(ClientError) as archived:
        s3.get_object(Bucket=bucket, Key="archived")
    assert archived.value.response["Error"]["Code"] == "InvalidObjectState"
    restore = s3.restore_object(Bucket=bucket, Key="archived", RestoreRequest={"Days": 1})
    assert restore["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert s3.get_object(Bucket=bucket, Key="archived")["Body"].read() == b"cold"
    assert 'ongoing-request="false"' in s3.head_object(Bucket=bucket, Key="archived")["Restore"]
    records = sorted((e["Records"][0] for e in receive(sqs, url, 4)), key=lambda r: r["eventName"])
    assert [r["eventName"] for r in records] == ["ObjectRemoved:DeleteMarkerCreated", "ObjectRestore:Completed",
                                                "ObjectRestore:Post", "ObjectTagging:Put"]
    assert records[0]["s3"]["object"]["versionId"] == marker
    assert records[3]["s3"]["object"]["versionId"] == version


def test_a_function_is_invoked_asynchronously_with_the_records(clients):
    s3, sqs, lam = clients["s3"], clients["sqs"], clients["lambda"]
    out, _ = make_queue(sqs)
    name = unique("s3-fn")
    function = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                   Code={"ZipFile": make_zip({"app.py": textwrap.dedent(FORWARDER)})},
                                   Environment={"Variables": {"OUT": out}}, Timeout=30)["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    bucket = unique("notify-fn")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"Id": "thumbs", "LambdaFunctionArn": function,
                                          "Events": ["s3:ObjectCreated:*"], "Filter": filters(suffix=".jpg")}]})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="photo.jpg")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="photo.jpg", UploadId=upload, PartNumber=1, Body=b"jpeg")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="photo.jpg", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    (event,) = receive(sqs, out, 1, timeout=60)
    (record,) = event["Records"]
    assert record["eventName"] == "ObjectCreated:CompleteMultipartUpload"
    assert record["s3"]["configurationId"] == "thumbs"
    assert record["s3"]["object"]["key"] == "photo.jpg" and record["s3"]["object"]["size"] == 4


def test_eventbridge_gets_object_created_events(clients):
    s3, sqs, events = clients["s3"], clients["sqs"], clients["events"]
    bucket = unique("notify-bus")
    s3.create_bucket(Bucket=bucket)
    url, arn = make_queue(sqs)
    rule = unique("s3-rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["aws.s3"], "detail": {
        "bucket": {"name": [bucket]}}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "EventBridgeConfiguration": {}})
    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k.txt", Body=b"hello")
    s3.delete_object(Bucket=bucket, Key="k.txt")
    delivered = sorted(receive(sqs, url, 2), key=lambda e: e["detail-type"])
    assert [e["detail-type"] for e in delivered] == ["Object Created", "Object Deleted"]
    created = delivered[0]
    assert created["source"] == "aws.s3" and created["resources"] == [f"arn:aws:s3:::{bucket}"]
    assert created["detail"]["bucket"] == {"name": bucket}
    assert created["detail"]["object"]["key"] == "k.txt" and created["detail"]["object"]["size"] == 5
    assert created["detail"]["reason"] == "PutObject"
    assert delivered[1]["detail"]["deletion-type"] == "Permanently Deleted"


def test_configurations_are_checked_before_they_are_stored(clients):
    s3, sqs = clients["s3"], clients["sqs"]
    bucket = unique("notify-bad")
    s3.create_bucket(Bucket=bucket)
    missing_queue = "arn:aws:sqs:us-east-1:000000000000:does-not-exist"
    with pytest.raises(ClientError) as unreachable:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": missing_queue, "Events": ["s3:ObjectCreated:*"]}]})
    assert unreachable.value.response["Error"]["Code"] == "InvalidArgument"
    assert "Unable to validate" in unreachable.value.response["Error"]["Message"]
    _, arn = make_queue(sqs)
    with pytest.raises(ClientError) as bad_event:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectEaten:*"]}]})
    assert bad_event.value.response["Error"]["Code"] == "InvalidArgument"
    with pytest.raises(ClientError) as overlap:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]},
                                    {"QueueArn": arn, "Events": ["s3:ObjectCreated:Put"]}]})
    assert "overlap" in overlap.value.response["Error"]["Message"]
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations") is None
