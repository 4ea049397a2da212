"""Acknowledged S3 writes and their notifications survive kill -9; bodies are stored once."""

from __future__ import annotations

import hashlib
import json
import os
import signal

from tests.server import CumuloServer, wait_for


def test_objects_versions_and_queued_notifications_survive_kill_9(tmp_path):
    # deliveries are accepted but not attempted before the kill: they must be delivered after it
    first = CumuloServer(tmp_path / "data", env={"CUMULO_EVENTS_DELIVERY_WORKERS": "0"}).start()
    s3, sqs = first.client("s3"), first.client("sqs")
    s3.create_bucket(Bucket="durable")
    s3.put_bucket_versioning(Bucket="durable", VersioningConfiguration={"Status": "Enabled"})
    url = sqs.create_queue(QueueName="s3-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket="durable", NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    large = os.urandom(11 * 1024 * 1024)  # spooled by the edge, renamed into the store
    v1 = s3.put_object(Bucket="durable", Key="large.bin", Body=large)["VersionId"]
    s3.put_object(Bucket="durable", Key="large.bin", Body=b"small")
    s3.copy_object(Bucket="durable", Key="same.bin", CopySource={"Bucket": "durable", "Key": "large.bin",
                                                                  "VersionId": v1})
    first.stop(signal.SIGKILL)
    bodies = [p for p in (tmp_path / "data" / "s3").glob("*/*") if p.parent.name != "staging"]
    assert sorted(p.stat().st_size for p in bodies) == [5, len(large)]  # the copy shares the large body

    second = CumuloServer(tmp_path / "data").start()
    try:
        s3, sqs = second.client("s3"), second.client("sqs")
        assert s3.get_object(Bucket="durable", Key="large.bin")["Body"].read() == b"small"
        old = s3.get_object(Bucket="durable", Key="large.bin", VersionId=v1)["Body"].read()
        assert hashlib.sha256(old).digest() == hashlib.sha256(large).digest()
        assert s3.get_object(Bucket="durable", Key="same.bin", Range="bytes=0-99")["Body"].read() == large[:100]
        events: list[str] = []

        def delivered() -> bool:
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                    "Messages", []):
                body = json.loads(message["Body"])
                if "Records" in body:
                    events.append(body["Records"][0]["eventName"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return len(events) >= 3

        wait_for(delivered, timeout=60, message="the notifications queued before the kill")
        assert sorted(events) == ["ObjectCreated:Copy", "ObjectCreated:Put", "ObjectCreated:Put"]
    finally:
        second.stop()
