"""Kinesis throughput and latency, Cumulo against moto's server mode where it applies.

* **PutRecords**: records/s and MB/s writing batches of 500 records of 100 bytes to a 4-shard stream
  (shard write limits off, as a bulk load would run).
* **GetRecords**: latency of reading 100 records from a shard (p50/p99).
* **end to end**: records/s from PutRecords through an event source mapping into a Python function,
  with BatchSize 100 and 1,000 and ParallelizationFactor 1 and 10.
* **put-to-invoke**: time from PutRecord returning to the function starting on that record, p50/p99
  (the function reads the wall clock; client and server are on this machine).

moto's figures (PutRecords, GetRecords) are skipped when moto is not installed.

    python -m bench.kinesis_throughput [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from bench._server_common import create_python_function
from bench.report import Figure, latency_figures, print_figures
from tests.server import CumuloServer, free_port, wait_for

BENCH = "kinesis_throughput"
SHARDS = 4

RECORDER = """
import json, time, boto3
SQS = boto3.client("sqs")

def handler(event, context):
    now = time.time()
    SQS.send_message(QueueUrl=QUEUE, MessageBody=json.dumps({"count": len(event["Records"]), "at": now,
                     "first": event["Records"][0]["kinesis"]["partitionKey"]}))
"""


def client(url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))


@contextlib.contextmanager
def cumulo_server() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        server = CumuloServer(Path(directory) / "data", env={"CUMULO_KINESIS_SHARD_LIMITS": "false"}).start()
        try:
            yield server.url
        finally:
            server.stop()


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        probe = client(url, "kinesis")
        wait_for(lambda: _answers(probe), timeout=30, interval=0.1, message="moto server")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _answers(kinesis: Any) -> bool:
    try:
        kinesis.list_streams()
        return True
    except Exception:
        return False


def _stream(kinesis: Any) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=SHARDS)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1})
    return name


def put_and_get(url: str, label: str, count: int) -> list[Figure]:
    kinesis = client(url, "kinesis")
    name = _stream(kinesis)
    payload = b"x" * 100
    started = time.perf_counter()
    for start in range(0, count, 500):
        kinesis.put_records(StreamName=name, Records=[{"Data": payload, "PartitionKey": f"k{start + i}"}
                                                      for i in range(min(500, count - start))])
    elapsed = time.perf_counter() - started
    samples = []
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    for _ in range(50):
        began = time.perf_counter()
        page = kinesis.get_records(ShardIterator=iterator, Limit=100)
        samples.append(time.perf_counter() - began)
        iterator = page["NextShardIterator"] if page["Records"] else kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return [Figure(BENCH, f"{label} PutRecords (500 x 100 B)", round(count / elapsed), "rec/s", "1 client"),
            Figure(BENCH, f"{label} PutRecords (500 x 100 B)", round(count * 100 / elapsed / 1e6, 2), "MB/s",
                   "1 client"),
            *latency_figures(BENCH, f"{label} GetRecords (100 records)", samples)]


def end_to_end(url: str, batch_size: int, factor: int, count: int) -> list[Figure]:
    kinesis, sqs, functions = client(url, "kinesis"), client(url, "sqs"), client(url, "lambda")
    name = _stream(kinesis)
    queue = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    function = f"bench-{uuid.uuid4().hex[:8]}"
    create_python_function(functions, function, f"QUEUE = {queue!r}\n" + RECORDER, Timeout=60)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    mapping = functions.create_event_source_mapping(EventSourceArn=arn, FunctionName=function, BatchSize=batch_size,
                                                    ParallelizationFactor=factor, StartingPosition="LATEST")["UUID"]
    wait_for(lambda: functions.get_event_source_mapping(UUID=mapping)["State"] == "Enabled", timeout=30)
    started = time.perf_counter()
    for start in range(0, count, 500):
        kinesis.put_records(StreamName=name, Records=[{"Data": b"x" * 100, "PartitionKey": f"k{start + i}"}
                                                      for i in range(min(500, count - start))])
    seen = 0

    def delivered() -> bool:
        nonlocal seen
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []):
            seen += json.loads(message["Body"])["count"]
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return seen >= count

    wait_for(delivered, timeout=600, interval=0, message="records delivered")
    elapsed = time.perf_counter() - started
    latencies = []
    for index in range(20):
        before = time.time()
        kinesis.put_record(StreamName=name, Data=b"x", PartitionKey=f"latency-{index}")
        arrived: list[float] = []

        def invoked(arrived: list[float] = arrived) -> bool:
            for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                    "Messages", []):
                body = json.loads(message["Body"])
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                arrived.append(body["at"])
            return bool(arrived)

        wait_for(invoked, timeout=30, interval=0, message="latency record delivered")
        latencies.append(arrived[0] - before)
    functions.delete_event_source_mapping(UUID=mapping)
    figures = [Figure(BENCH, f"cumulo end to end, BatchSize {batch_size}, ParallelizationFactor {factor}",
                      round(count / elapsed), "rec/s", f"{SHARDS} shards")]
    if batch_size == 100 and factor == 1:
        figures += latency_figures(BENCH, "cumulo put-to-invoke", latencies)
    return figures


def run(quick: bool = False) -> list[Figure]:
    count = 2_000 if quick else 20_000
    with cumulo_server() as url:
        figures = put_and_get(url, "cumulo", count)
        for batch_size, factor in ((100, 1), (1000, 1), (100, 10), (1000, 10)):
            figures += end_to_end(url, batch_size, factor, count)
    if importlib.util.find_spec("moto") is None:
        print("moto is not installed: its figures are skipped (pip install 'moto[server]')", file=sys.stderr)
        return figures
    with moto_server() as url:
        figures += put_and_get(url, "moto", max(1_000, count // 10))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print_figures(run(parser.parse_args(argv).quick))


if __name__ == "__main__":
    main()
