"""SQS throughput and long-poll wake-up latency: Cumulo against moto's server mode, same script.

* **throughput**: messages sent in batches of 10 (SendMessageBatch), then received 10 at a time
  (ReceiveMessage) and deleted in batches (DeleteMessageBatch); messages/s for each phase and
  for the whole send+receive+delete cycle, with one client and with 4 concurrent clients.
* **long-poll wake-up**: a client waits in ReceiveMessage(WaitTimeSeconds=20) on an empty
  queue; another sends one message; the figure is the time from the start of SendMessage to
  the waiting ReceiveMessage returning it.

Both servers run on this machine as subprocesses (``cumulo serve`` with a fresh data directory,
``python -m moto.server``) and are driven through boto3, so the client's cost is in both
figures; the ratios say how much faster Cumulo answers. moto gets a tenth of the messages (its
rates are two orders of magnitude lower; a rate does not depend on the count). moto's figures
are skipped when moto is not installed.

    python -m bench.sqs_throughput            # 10,000 messages, 100 wake-ups
    python -m bench.sqs_throughput --quick    # 1,000 messages, 20 wake-ups
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
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

from bench.report import Figure, latency_figures, print_figures
from tests.server import CumuloServer, free_port, wait_for

BENCH = "sqs_throughput"
CLIENTS = 4


def client(url: str) -> Any:
    return boto3.client("sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}, max_pool_connections=CLIENTS * 2))


@contextlib.contextmanager
def cumulo_server() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        server = CumuloServer(Path(directory) / "data").start()
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
        probe = client(url)
        wait_for(lambda: _answers(probe), timeout=30, interval=0.1, message="moto server")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _answers(sqs: Any) -> bool:
    try:
        sqs.list_queues()
        return True
    except Exception:
        return False


def _send(sqs: Any, url: str, count: int) -> None:
    for start in range(0, count, 10):
        entries = [{"Id": str(i), "MessageBody": f"message {start + i} " + "x" * 100}
                   for i in range(min(10, count - start))]
        result = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert len(result["Successful"]) == len(entries), result.get("Failed")


def _drain(sqs: Any, url: str, count: int) -> None:
    received = 0
    deadline = time.monotonic() + 120
    while received < count:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        if messages:
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
            received += len(messages)
        elif time.monotonic() > deadline:
            raise RuntimeError(f"only {received} of {count} messages came back")


def throughput(url: str, label: str, count: int) -> list[Figure]:
    sqs = client(url)
    queue = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    _send(sqs, queue, 100)  # warm-up
    _drain(sqs, queue, 100)
    started = time.perf_counter()
    _send(sqs, queue, count)
    sent = time.perf_counter()
    _drain(sqs, queue, count)
    done = time.perf_counter()
    figures = [
        Figure(BENCH, f"{label} send (batches of 10)", round(count / (sent - started)), "msg/s", "1 client"),
        Figure(BENCH, f"{label} receive+delete (batches of 10)", round(count / (done - sent)), "msg/s", "1 client"),
        Figure(BENCH, f"{label} send+receive+delete", round(count / (done - started)), "msg/s", "1 client"),
    ]
    # Several clients at once: each sends its share, then all drain the queue together.
    clients = [client(url) for _ in range(CLIENTS)]
    share = count // CLIENTS

    def work(index: int) -> None:
        _send(clients[index], queue, share)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drains = [threading.Thread(target=_drain, args=(clients[i], queue, share)) for i in range(CLIENTS)]
    for thread in drains:
        thread.start()
    for thread in drains:
        thread.join()
    done = time.perf_counter()
    figures.append(Figure(BENCH, f"{label} send+receive+delete, {CLIENTS} clients",
                          round(share * CLIENTS / (done - started)), "msg/s", f"{CLIENTS} threads"))
    sqs.delete_queue(QueueUrl=queue)
    return figures


def wake_up(url: str, label: str, rounds: int) -> list[Figure]:
    sender, poller = client(url), client(url)
    queue = sender.create_queue(QueueName=f"poll-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    samples = []
    for _ in range(rounds):
        result: dict[str, float] = {}

        def poll(result: dict[str, float] = result) -> None:
            response = poller.receive_message(QueueUrl=queue, WaitTimeSeconds=20)
            result["returned"] = time.perf_counter()
            for message in response.get("Messages", []):
                poller.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

        thread = threading.Thread(target=poll)
        thread.start()
        time.sleep(0.05)  # let the receive reach the server and start waiting
        sent = time.perf_counter()
        sender.send_message(QueueUrl=queue, MessageBody="wake up")
        thread.join(30)
        samples.append(result["returned"] - sent)
    sender.delete_queue(QueueUrl=queue)
    return latency_figures(BENCH, f"{label} long-poll wake-up", samples)


def run(quick: bool = False) -> list[Figure]:
    count = 1_000 if quick else 10_000
    rounds = 20 if quick else 100
    figures: list[Figure] = []
    with cumulo_server() as url:
        figures += throughput(url, "cumulo", count)
        figures += wake_up(url, "cumulo", rounds)
    if importlib.util.find_spec("moto") is None:
        return figures
    with moto_server() as url:
        # moto is two orders of magnitude slower: a tenth of the messages gives a stable rate in minutes.
        moto = throughput(url, "moto", max(200, count // 10)) + wake_up(url, "moto", rounds)
    figures += moto
    by_metric = {f.metric: f.value for f in figures}
    for figure in list(figures):
        if not figure.metric.startswith("cumulo "):
            continue
        other = by_metric.get("moto " + figure.metric[len("cumulo "):])
        if not other or not figure.value:
            continue
        faster = figure.value / other if figure.unit == "msg/s" else other / figure.value
        figures.append(Figure(BENCH, figure.metric[len("cumulo "):] + " vs moto", round(faster, 2), "x",
                              "Cumulo / moto" if figure.unit == "msg/s" else "moto / Cumulo (latency)"))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sqs_throughput", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer messages and rounds")
    print_figures(run(quick=parser.parse_args(argv).quick))


if __name__ == "__main__":
    main()
