"""Everything SQS acknowledged survives ``kill -9``: queues, messages (visible, delayed, in flight,
FIFO with their deduplication window) and running message move tasks."""

from __future__ import annotations

import json
import signal

from tests.server import CumuloServer, wait_for


def test_messages_survive_sigkill(tmp_path):
    data = tmp_path / "data"
    server = CumuloServer(data).start()
    try:
        sqs = server.client("sqs")
        url = sqs.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
        fifo = sqs.create_queue(QueueName="durable.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        sent = set()
        for batch in range(5):
            result = sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": f"m{batch}-{i}"} for i in range(10)])
            sent |= {e["MessageId"] for e in result["Successful"]}
        sent.add(sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=1)["MessageId"])
        in_flight = sqs.receive_message(QueueUrl=url)["Messages"][0]["MessageId"]  # leased, never deleted
        for i in range(3):
            sqs.send_message(QueueUrl=fifo, MessageBody=f"f{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
    finally:
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL

    restarted = CumuloServer(data, port=server.port).start()
    try:
        sqs = restarted.client("sqs")
        received = {}

        def drain() -> bool:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            for message in messages:
                received[message["MessageId"]] = message["Body"]
            if messages:
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
            return set(received) >= sent

        wait_for(drain, timeout=20, message="every acknowledged message after the restart")
        assert set(received) == sent
        assert in_flight in received
        # FIFO order and deduplication window survive too.
        again = sqs.send_message(QueueUrl=fifo, MessageBody="dup", MessageGroupId="g", MessageDeduplicationId="d0")
        bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]]
        assert bodies == ["f0", "f1", "f2"]
        assert again["MessageId"]
    finally:
        restarted.stop()


def test_move_task_resumes_after_sigkill(tmp_path):
    data = tmp_path / "data"
    server = CumuloServer(data).start()
    try:
        sqs = server.client("sqs")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.create_queue(QueueName="source", Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})
        target = sqs.create_queue(QueueName="target")["QueueUrl"]
        target_arn = sqs.get_queue_attributes(QueueUrl=target, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.send_message_batch(QueueUrl=dlq, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(6)])
        sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=target_arn, MaxNumberOfMessagesPerSecond=3)
    finally:
        server.stop(signal.SIGKILL)

    restarted = CumuloServer(data, port=server.port).start()
    try:
        sqs = restarted.client("sqs")
        wait_for(lambda: sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["Status"] == "COMPLETED",
                 timeout=15, message="the resumed move task")
        moved = set()
        wait_for(lambda: moved.update(m["Body"] for m in sqs.receive_message(
            QueueUrl=target, MaxNumberOfMessages=10).get("Messages", [])) or len(moved) == 6, timeout=10)
        assert moved == {str(i) for i in range(6)}
        assert "Messages" not in sqs.receive_message(QueueUrl=dlq)
    finally:
        restarted.stop()
