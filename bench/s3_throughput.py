"""S3 throughput, latency and memory: Cumulo against moto's server mode, same script.

* **PUT/GET**: objects of 1 KB, 1 MB and 100 MB put and read back through boto3, one at a time;
  p50 latency and MB/s for each size.
* **aws s3 sync**: 1,000 small files (1 KB) uploaded by the AWS CLI into an empty prefix.
* **memory**: the server's resident memory while a 2 GB object is uploaded in one streamed PUT
  (peak RSS during the upload, and its growth over the RSS before it).
* **notification latency** (Cumulo only; moto's server does not run functions): from the start of
  a PutObject to the start of the function its bucket notification invokes, as the function
  sees the clock.

Both servers run on this machine as subprocesses (``cumulo serve`` with a fresh data directory,
``python -m moto.server``); moto's figures are skipped when moto is not installed.

    python -m bench.s3_throughput            # as above
    python -m bench.s3_throughput --quick    # fewer objects, 300 files, a 512 MB upload
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
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

BENCH = "s3_throughput"
MB = 1024 * 1024
RECORDER = """
import json, os, time
import boto3

def handler(event, context):
    started = time.time()
    boto3.client("sqs").send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(
        {"started": started, "key": event["Records"][0]["s3"]["object"]["key"]}))
"""


def client(url: str, service: str = "s3") -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))


@contextlib.contextmanager
def cumulo_server() -> Iterator[tuple[str, int]]:
    with tempfile.TemporaryDirectory() as directory:
        server = CumuloServer(Path(directory) / "data").start()
        try:
            assert server.process is not None
            yield server.url, server.process.pid
        finally:
            server.stop()


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[str, int]]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(client(url)), timeout=30, interval=0.1, message="moto server")
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:  # freeing gigabytes of stored objects can take long
            process.kill()
            process.wait()


def _answers(s3: Any) -> bool:
    try:
        s3.list_buckets()
        return True
    except Exception:
        return False


def put_get(url: str, label: str, sizes: list[tuple[str, int, int]]) -> list[Figure]:
    s3 = client(url)
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    figures: list[Figure] = []
    for name, size, count in sizes:
        body = os.urandom(size)
        puts, gets = [], []
        for index in range(count + 2):  # two unmeasured rounds first
            started = time.perf_counter()
            s3.put_object(Bucket=bucket, Key=f"{name}/{index}", Body=body)
            put_done = time.perf_counter()
            read = s3.get_object(Bucket=bucket, Key=f"{name}/{index}")["Body"].read()
            get_done = time.perf_counter()
            assert len(read) == size
            if index >= 2:
                puts.append(put_done - started)
                gets.append(get_done - put_done)
        for operation, samples in (("PUT", puts), ("GET", gets)):
            figures += latency_figures(BENCH, f"{label} {operation} {name}", samples)[:1]
            rate = len(samples) / sum(samples)
            figures.append(Figure(BENCH, f"{label} {operation} {name} throughput", round(size * rate / MB, 2),
                                  "MB/s", f"{round(rate, 1)} objects/s, {count} objects"))
    return figures


def sync(url: str, label: str, files: int) -> list[Figure]:
    s3 = client(url)
    bucket = f"sync-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    with tempfile.TemporaryDirectory() as directory:
        for index in range(files):
            (Path(directory) / f"file-{index:04d}.txt").write_bytes(os.urandom(1024))
        environment = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull}
        started = time.perf_counter()
        subprocess.run(["aws", "--endpoint-url", url, "s3", "sync", directory, f"s3://{bucket}/files", "--quiet"],
                       check=True, env=environment, timeout=600)
        elapsed = time.perf_counter() - started
    listed = sum(page.get("KeyCount", 0) for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))
    assert listed == files, listed
    return [Figure(BENCH, f"{label} aws s3 sync {files} files", round(elapsed, 2), "s", "1 KB each"),
            Figure(BENCH, f"{label} aws s3 sync rate", round(files / elapsed), "files/s")]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def memory(url: str, pid: int, label: str, size: int) -> list[Figure]:
    """Peak RSS of the server while one streamed PUT of ``size`` bytes goes in."""
    s3 = client(url)
    bucket = f"mem-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    before = _rss_kb(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_kb(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    piece = os.urandom(MB)
    started = time.perf_counter()
    try:
        connection.putrequest("PUT", f"/{bucket}/big.bin", skip_host=True)
        for name, value in (("Host", f"{host}:{port}"), ("Content-Length", str(size)),
                            ("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, "
                                              "SignedHeaders=host, Signature=00"),
                            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")):
            connection.putheader(name, value)
        connection.endheaders()
        for _ in range(size // MB):
            connection.send(piece)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        connection.close()
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == size
    note = f"{size // MB} MB PUT in {elapsed:.1f} s"
    return [Figure(BENCH, f"{label} server RSS peak during {size // MB} MB upload", round(peak[0] / 1024, 1), "MB",
                   note),
            Figure(BENCH, f"{label} server RSS growth during {size // MB} MB upload",
                   round((peak[0] - before) / 1024, 1), "MB", note)]


def notification_latency(url: str, rounds: int) -> list[Figure]:
    s3, sqs, lam = client(url), client(url, "sqs"), client(url, "lambda")
    out = sqs.create_queue(QueueName=f"bench-notify-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    name = f"bench-notify-{uuid.uuid4().hex[:8]}"
    create_python_function(lam, name, RECORDER, Environment={"Variables": {"OUT": out}}, Timeout=30)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    bucket = f"notify-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    samples = []
    for index in range(rounds + 1):  # the first one starts the environment: unmeasured
        started = time.time()
        s3.put_object(Bucket=bucket, Key=f"k{index}", Body=b"x")
        messages = wait_for(lambda: sqs.receive_message(QueueUrl=out, WaitTimeSeconds=1).get("Messages"),
                            timeout=60, message="the function's report")
        sqs.delete_message(QueueUrl=out, ReceiptHandle=messages[0]["ReceiptHandle"])
        if index:
            samples.append(json.loads(messages[0]["Body"])["started"] - started)
    return latency_figures(BENCH, "cumulo notification PUT -> function start (warm)", samples)


def run(quick: bool = False) -> list[Figure]:
    sizes = [("1KB", 1024, 50 if quick else 300), ("1MB", MB, 10 if quick else 50),
             ("100MB", 100 * MB, 1 if quick else 3)]
    files = 300 if quick else 1000
    upload = (512 if quick else 2048) * MB
    figures: list[Figure] = []

    def add(new: list[Figure]) -> None:
        figures.extend(new)
        for figure in new:  # shown as they come: a full run takes minutes
            print(f"  {figure.metric}: {figure.value} {figure.unit}", file=sys.stderr, flush=True)

    with cumulo_server() as (url, pid):
        add(put_get(url, "cumulo", sizes))
        add(sync(url, "cumulo", files))
        add(memory(url, pid, "cumulo", upload))
        add(notification_latency(url, 5 if quick else 20))
    if importlib.util.find_spec("moto") is not None:
        with moto_server() as (url, pid):
            add(put_get(url, "moto", sizes))
            add(sync(url, "moto", files))
            add(memory(url, pid, "moto", upload))
    by_metric = {f.metric: f for f in figures}
    for figure in list(figures):
        other = by_metric.get("moto " + figure.metric.removeprefix("cumulo "))
        if figure.metric.startswith("cumulo ") and other and figure.value and other.value and figure.unit != "MB":
            faster = figure.value / other.value if figure.unit in ("MB/s", "files/s") else other.value / figure.value
            figures.append(Figure(BENCH, figure.metric.removeprefix("cumulo ") + " vs moto", round(faster, 2), "x",
                                  "how many times faster Cumulo is"))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.s3_throughput", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer objects and files, a smaller upload")
    print_figures(run(quick=parser.parse_args(argv).quick))


if __name__ == "__main__":
    main()
