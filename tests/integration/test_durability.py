"""kill -9 in the middle of hundreds of asynchronous invokes and queued messages loses nothing."""

from __future__ import annotations

import json
import signal
import textwrap

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/r"
COUNT = 200


def test_async_invokes_and_mapped_messages_survive_kill_9(tmp_path):
    first = CumuloServer(tmp_path / "data", env={"CUMULO_RETRY_DELAY_SCALE": "0.005"}).start()
    lambda_client, sqs = first.client("lambda"), first.client("sqs")
    sink = sqs.create_queue(QueueName="sink")["QueueUrl"]
    source = sqs.create_queue(QueueName="source", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    handler = textwrap.dedent(f"""
        import json, boto3
        SQS = boto3.client("sqs")

        def handler(event, context):
            ids = [json.loads(r["body"])["id"] for r in event["Records"]] if "Records" in event else [event["id"]]
            SQS.send_message_batch(QueueUrl={sink!r}, Entries=[{{"Id": str(i), "MessageBody": str(v)}}
                                                              for i, v in enumerate(ids)])
    """)
    lambda_client.create_function(FunctionName="worker", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": make_zip({"app.py": handler})}, Timeout=30)
    lambda_client.get_waiter("function_active_v2").wait(FunctionName="worker", WaiterConfig={"Delay": 0.05})
    lambda_client.create_event_source_mapping(EventSourceArn=source_arn, FunctionName="worker", BatchSize=10)
    for index in range(COUNT):
        lambda_client.invoke(FunctionName="worker", InvocationType="Event", Payload=json.dumps({"id": index}))
    for start in range(COUNT, 2 * COUNT, 10):
        sqs.send_message_batch(QueueUrl=source, Entries=[{"Id": str(i), "MessageBody": json.dumps({"id": i})}
                                                         for i in range(start, start + 10)])
    first.stop(signal.SIGKILL)  # with most of the work accepted but not done yet

    second = CumuloServer(tmp_path / "data", env={"CUMULO_RETRY_DELAY_SCALE": "0.005"}).start()
    try:
        sqs = second.client("sqs")
        done: set[int] = set()

        def everything_ran() -> bool:
            for message in sqs.receive_message(QueueUrl=sink, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                    "Messages", []):
                done.add(int(message["Body"]))
                sqs.delete_message(QueueUrl=sink, ReceiptHandle=message["ReceiptHandle"])
            return len(done) == 2 * COUNT

        wait_for(everything_ran, timeout=240, interval=0, message=f"all {2 * COUNT} units of work to run")
        assert done == set(range(2 * COUNT))
    finally:
        second.stop()
