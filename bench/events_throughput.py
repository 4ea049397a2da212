"""EventBridge end to end: PutEvents -> rule match -> durable delivery -> SQS target.

A real ``cumulo serve`` holds one custom bus with 200 rules (199 that never match the
benchmark's events, each on a different ``source``/``detail-type``/``detail`` field, and one
that matches with an SQS queue target). Measured:

* PutEvents latency (10 entries per request, one keep-alive raw HTTP connection);
* accepted events per second with 1 and 4 client processes (10 entries per request);
* delivered events per second: from the first PutEvents until the queue holds every event;
* end-to-end latency of one event, PutEvents to the message being receivable (long poll);
* the same bus in moto (in-process, through boto3, delivering to its SQS mock synchronously),
  as events per second, when moto is installed.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import tempfile
import time
from pathlib import Path

from bench.report import Figure, latency_figures, print_figures, timed_samples
from tests.server import CumuloServer

BENCH = "events_throughput"
BUS = "bench-bus"
HEADERS = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSEvents.PutEvents"}
SQS_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}


def _entries(count: int, marker: str = "bulk") -> bytes:
    detail = json.dumps({"order": {"id": 42, "total": 19.99, "status": "PLACED"}, "marker": marker})
    return json.dumps({"Entries": [{"Source": "bench.shop", "DetailType": "Order Placed", "Detail": detail,
                                    "EventBusName": BUS} for _ in range(count)]}).encode()


def _put(connection: http.client.HTTPConnection, body: bytes) -> None:
    connection.request("POST", "/", body=body, headers=HEADERS)
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200 or json.loads(answer)["FailedEntryCount"]:
        raise RuntimeError(f"PutEvents failed: {response.status} {answer[:300]!r}")


def _client_loop(port: int, seconds: float, results: multiprocessing.Queue) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    body = _entries(10)
    _put(connection, body)
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        _put(connection, body)
        count += 10
    results.put(count + 10)


def _sqs(connection: http.client.HTTPConnection, action: str, payload: dict) -> dict:
    connection.request("POST", "/", body=json.dumps(payload).encode(),
                       headers={**SQS_HEADERS, "X-Amz-Target": f"AmazonSQS.{action}"})
    response = connection.getresponse()
    return json.loads(response.read() or b"{}")


def _queue_depth(connection: http.client.HTTPConnection, url: str) -> int:
    attributes = _sqs(connection, "GetQueueAttributes", {
        "QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]})
    values = attributes["Attributes"]
    return int(values["ApproximateNumberOfMessages"]) + int(values["ApproximateNumberOfMessagesNotVisible"])


def _setup(server: CumuloServer) -> None:
    events = server.client("events")
    events.create_event_bus(Name=BUS)
    for index in range(199):
        pattern = [{"source": [f"other.app.{index}"]},
                   {"source": ["bench.shop"], "detail-type": [f"Other {index}"]},
                   {"source": ["bench.shop"], "detail": {"order": {"status": [f"S{index}"]}}}][index % 3]
        events.put_rule(Name=f"noise-{index:03d}", EventBusName=BUS, EventPattern=json.dumps(pattern))
    matching = {"source": ["bench.shop"], "detail-type": ["Order Placed"],
                "detail": {"order": {"total": [{"numeric": [">", 0]}]}}}
    events.put_rule(Name="orders", EventBusName=BUS, EventPattern=json.dumps(matching))


def _fresh_target(server: CumuloServer, name: str) -> str:
    """A new, empty queue as the matching rule's target (SQS allows one PurgeQueue a minute)."""
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    server.client("events").put_targets(Rule="orders", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
    return url


def _moto_rate(calls: int) -> float | None:
    """Events per second through moto's EventBridge with the same 200 rules and an SQS target."""
    try:
        import boto3
        from moto import mock_aws
    except ImportError:
        return None
    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="bench-target")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.create_event_bus(Name=BUS)
        for index in range(199):
            pattern = [{"source": [f"other.app.{index}"]},
                       {"source": ["bench.shop"], "detail-type": [f"Other {index}"]},
                       {"source": ["bench.shop"], "detail": {"order": {"status": [f"S{index}"]}}}][index % 3]
            events.put_rule(Name=f"noise-{index:03d}", EventBusName=BUS, EventPattern=json.dumps(pattern))
        events.put_rule(Name="orders", EventBusName=BUS, EventPattern=json.dumps(
            {"source": ["bench.shop"], "detail-type": ["Order Placed"]}))
        events.put_targets(Rule="orders", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
        entries = json.loads(_entries(10))["Entries"]
        events.put_events(Entries=entries)
        started = time.perf_counter()
        for _ in range(calls):
            events.put_events(Entries=entries)
        return calls * 10 / (time.perf_counter() - started)


def run(quick: bool = False) -> list[Figure]:
    figures: list[Figure] = []
    seconds = 2.0 if quick else 5.0
    with tempfile.TemporaryDirectory() as scratch:
        server = CumuloServer(Path(scratch) / "data").start()
        try:
            _setup(server)
            _fresh_target(server, "latency")
            connection = http.client.HTTPConnection("127.0.0.1", server.port)
            control = http.client.HTTPConnection("127.0.0.1", server.port)
            body = _entries(10)
            samples = timed_samples(lambda: _put(connection, body), 50 if quick else 300)
            figures += latency_figures(BENCH, "PutEvents (10 entries)", samples)

            for clients in (1, 4):
                url = _fresh_target(server, f"throughput-{clients}")
                results: multiprocessing.Queue = multiprocessing.Queue()
                workers = [multiprocessing.Process(target=_client_loop, args=(server.port, seconds, results))
                           for _ in range(clients)]
                started = time.perf_counter()
                for worker in workers:
                    worker.start()
                accepted = sum(results.get() for _ in workers)  # before join: a child flushes its queue first
                for worker in workers:
                    worker.join()
                accepted_s = time.perf_counter() - started
                deadline = time.perf_counter() + 120
                while _queue_depth(control, url) < accepted and time.perf_counter() < deadline:
                    time.sleep(0.02)
                delivered_s = time.perf_counter() - started
                delivered = _queue_depth(control, url)
                figures.append(Figure(BENCH, f"accepted, {clients} client(s)", round(accepted / accepted_s), "ev/s",
                                      "10 entries per PutEvents, 200 rules on the bus"))
                figures.append(Figure(BENCH, f"delivered to SQS, {clients} client(s)",
                                      round(delivered / delivered_s), "ev/s",
                                      f"{delivered}/{accepted} events queued in {delivered_s:.1f}s"))

            url = _fresh_target(server, "end-to-end")
            latencies = []
            for index in range(10 if quick else 40):
                marker = f"single-{index}"
                start = time.perf_counter()
                _put(connection, _entries(1, marker))
                while True:
                    answer = _sqs(control, "ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 5})
                    messages = answer.get("Messages", [])
                    if messages:
                        latencies.append(time.perf_counter() - start)
                        for message in messages:
                            _sqs(control, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": message["ReceiptHandle"]})
                        break
            figures += latency_figures(BENCH, "PutEvents to receivable in SQS", latencies)
        finally:
            server.stop()
    moto = _moto_rate(2 if quick else 4)
    if moto is not None:
        ours = next(f.value for f in figures if f.metric == "delivered to SQS, 1 client(s)")
        figures.append(Figure(BENCH, "moto, PutEvents + SQS delivery", round(moto, 1), "ev/s",
                              "in-process, boto3, same 200 rules"))
        figures.append(Figure(BENCH, "delivered/s, Cumulo vs moto", round(ours / moto, 1), "x",
                              "Cumulo through HTTP with durable delivery, 1 client"))
    return figures


if __name__ == "__main__":
    import sys

    print_figures(run(quick="--quick" in sys.argv))
