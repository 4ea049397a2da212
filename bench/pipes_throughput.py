"""EventBridge Pipes: SQS -> Lambda enrichment -> Lambda target, messages per second.

A real ``cumulo serve`` holds N messages in a queue; a pipe (BatchSize 10, no batching
window, a filter every message passes) is created with a Python enrichment function that adds
a field to each record and a Python target function invoked synchronously; the clock runs
until the queue is empty, i.e. every batch was filtered, enriched, accepted by the target and
deleted. The same run with an event source mapping straight into the target function gives
the cost of the pipe's extra hop.

    python -m bench.pipes_throughput [--quick]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from bench._server_common import ROLE, create_python_function
from bench.report import Figure, print_figures
from tests.server import CumuloServer, wait_for

ENRICH = "def handler(event, context):\n    return [dict(r, enriched=True) for r in event]\n"
TARGET = "def handler(event, context):\n    return {'batchItemFailures': []}\n"


def _queue(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _depth(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(value) for value in attributes.values())


def _fill(sqs, url: str, count: int) -> None:
    for start in range(0, count, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": json.dumps({"kind": "order", "n": start + i})}
            for i in range(min(10, count - start))])


def _drain_time(sqs, url: str, begin: object) -> float:
    started = time.perf_counter()
    begin()  # type: ignore[operator]
    wait_for(lambda: _depth(sqs, url) == 0, timeout=600, interval=0.05, message="the queue to drain")
    return time.perf_counter() - started


def run(quick: bool = False) -> list[Figure]:
    count = 500 if quick else 3000
    with tempfile.TemporaryDirectory() as directory:
        server = CumuloServer(Path(directory) / "data").start()
        try:
            lam, sqs, pipes = server.client("lambda"), server.client("sqs"), server.client("pipes")
            create_python_function(lam, "bench-enrich", ENRICH)
            create_python_function(lam, "bench-target", TARGET)
            arns = {name: lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
                    for name in ("bench-enrich", "bench-target")}
            url, arn = _queue(sqs, "bench-pipe-source")
            _fill(sqs, url, count)
            piped = _drain_time(sqs, url, lambda: pipes.create_pipe(
                Name="bench", Source=arn, Target=arns["bench-target"], Enrichment=arns["bench-enrich"], RoleArn=ROLE,
                SourceParameters={"SqsQueueParameters": {"BatchSize": 10}, "FilterCriteria": {
                    "Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]}}))
            direct_url, direct_arn = _queue(sqs, "bench-esm-source")
            _fill(sqs, direct_url, count)
            direct = _drain_time(sqs, direct_url, lambda: lam.create_event_source_mapping(
                EventSourceArn=direct_arn, FunctionName="bench-target", BatchSize=10))
        finally:
            server.stop()
    return [Figure("pipes_throughput", "SQS -> filter -> Lambda enrichment -> Lambda (pipe)", round(count / piped),
                   "msg/s", f"{count} queued messages, BatchSize 10, until the queue is empty"),
            Figure("pipes_throughput", "SQS -> Lambda (event source mapping, same target)", round(count / direct),
                   "msg/s", "the same messages without the pipe, for comparison")]


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
