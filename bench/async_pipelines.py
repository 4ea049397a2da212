"""Asynchronous work end to end: async invokes (accepted -> executed) and SQS -> Lambda.

A real ``cumulo serve`` runs a hello-world Python function. Measured:

* **async invoke**: N ``InvocationType=Event`` invokes on one keep-alive raw HTTP connection
  (accepted/s: the 202s, each committed to the durable event queue before it is answered);
  executed/s is N over the time from the first accept until the function's on-success
  destination queue holds all N records, so it includes running every event and writing its
  destination record; and the latency of one event on an idle system, from the Invoke call to
  its destination record arriving in a long-polling ReceiveMessage.
* **SQS -> Lambda**: N messages wait in a queue; an event source mapping (BatchSize 10, no
  batching window) is created and the clock runs until the queue is empty, i.e. every batch
  was delivered to the function, succeeded and was deleted: messages/s.

No peer runs these here: moto runs functions only in Docker, which this machine lacks.

    python -m bench.async_pipelines [--quick]
"""

from __future__ import annotations

import http.client
import sys
import tempfile
import time
from pathlib import Path

from bench._server_common import AUTH, create_python_function
from bench.report import Figure, percentile, print_figures
from tests.server import CumuloServer, wait_for

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"



def _queue_depth(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
    ])["Attributes"]
    return sum(int(value) for value in attributes.values())


def _async_invokes(server: CumuloServer, count: int, latency_samples: int) -> list[Figure]:
    lam, sqs = server.client("lambda"), server.client("sqs")
    url = sqs.create_queue(QueueName="bench-destination")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    create_python_function(lam, "bench-async", HANDLER)
    lam.put_function_event_invoke_config(FunctionName="bench-async",
                                         DestinationConfig={"OnSuccess": {"Destination": arn}})
    lam.invoke(FunctionName="bench-async", Payload=b"{}")  # a warm environment to start from

    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    started = time.perf_counter()
    for index in range(count):
        connection.request("POST", "/2015-03-31/functions/bench-async/invocations", body=b'{"n": %d}' % index,
                           headers={"Authorization": AUTH, "X-Amz-Invocation-Type": "Event"})
        response = connection.getresponse()
        response.read()
        if response.status != 202:
            raise RuntimeError(f"async invoke answered {response.status}")
    accepted = time.perf_counter()
    wait_for(lambda: _queue_depth(sqs, url) >= count, timeout=300, interval=0.05,
             message=f"{count} destination records")
    executed = time.perf_counter()
    sqs.purge_queue(QueueUrl=url)
    wait_for(lambda: _queue_depth(sqs, url) == 0, timeout=60, interval=0.05, message="an empty queue")

    latencies = []
    for _ in range(latency_samples):
        begin = time.perf_counter()
        lam.invoke(FunctionName="bench-async", InvocationType="Event", Payload=b"{}")
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
        if not messages:
            raise RuntimeError("no destination record within 20 s")
        latencies.append((time.perf_counter() - begin) * 1000)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
    connection.close()
    return [
        Figure("async_pipelines", "async invoke accepted", round(count / (accepted - started)), "ev/s",
               f"{count} Event invokes, 1 keep-alive connection, durable before 202"),
        Figure("async_pipelines", "async invoke executed", round(count / (executed - started)), "ev/s",
               "first accept -> every on-success destination record in SQS"),
        Figure("async_pipelines", "async invoke -> destination p50", round(percentile(latencies, 50), 2), "ms",
               "one event on an idle system, Invoke call -> long-polled destination record"),
        Figure("async_pipelines", "async invoke -> destination p95", round(percentile(latencies, 95), 2), "ms"),
    ]


def _sqs_to_lambda(server: CumuloServer, count: int) -> list[Figure]:
    lam, sqs = server.client("lambda"), server.client("sqs")
    url = sqs.create_queue(QueueName="bench-source", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    create_python_function(lam, "bench-worker", HANDLER)
    for start in range(0, count, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"order {start + i}"} for i in range(min(10, count - start))])
    started = time.perf_counter()
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="bench-worker", BatchSize=10)
    wait_for(lambda: _queue_depth(sqs, url) == 0, timeout=300, interval=0.05, message="the queue to drain")
    elapsed = time.perf_counter() - started
    return [Figure("async_pipelines", "SQS -> Lambda (event source mapping)", round(count / elapsed), "msg/s",
                   f"{count} queued messages, BatchSize 10, until the queue is empty")]


def run(quick: bool = False) -> list[Figure]:
    with tempfile.TemporaryDirectory() as directory:
        server = CumuloServer(Path(directory) / "data").start()
        try:
            figures = _async_invokes(server, 300 if quick else 2000, 10 if quick else 50)
            figures += _sqs_to_lambda(server, 500 if quick else 5000)
        finally:
            server.stop()
    return figures


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
