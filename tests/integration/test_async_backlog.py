"""A throttled asynchronous backlog drains at the concurrency the function is allowed.

Throttled events wait for a slot instead of each backing off alone, so a function with
reserved concurrency never idles while events are queued for it; the maximum event age
still holds while they wait, and functions sharing the account's unreserved concurrency
both make progress.
"""

from __future__ import annotations

import json
import signal
import textwrap
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/r"
# Records when it ran: the on-success destination receives start and end times.
HANDLER = textwrap.dedent("""
    import time

    def handler(event, context):
        start = time.time()
        time.sleep(event.get("sleep", 0.05))
        return {"id": event["id"], "start": start, "end": time.time()}
""")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    instance = CumuloServer(tmp_path_factory.mktemp("backlog") / "data",
                            env={"CUMULO_RETRY_DELAY_SCALE": "0.01"}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def small_account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    """An account that may run only two invocations at once, shared by all its functions."""
    instance = CumuloServer(tmp_path_factory.mktemp("small-account") / "data",
                            env={"CUMULO_CONCURRENT_EXECUTIONS": "2"}).start()
    yield instance
    instance.stop()


def deploy(server: CumuloServer, reserved: int | None = None, max_age: int | None = None) -> tuple[str, str, str]:
    """A function whose successes and failures go to two SQS queues: (name, success url, failure url)."""
    lambda_client, sqs = server.client("lambda"), server.client("sqs")
    name = f"fn-{uuid.uuid4().hex[:8]}"
    lambda_client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": make_zip({"app.py": HANDLER})}, Timeout=30)
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    if reserved is not None:
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    urls, arns = [], []
    for outcome in ("ok", "failed"):
        url = sqs.create_queue(QueueName=f"{name}-{outcome}")["QueueUrl"]
        urls.append(url)
        arns.append(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
    lambda_client.put_function_event_invoke_config(
        FunctionName=name, **({"MaximumEventAgeInSeconds": max_age} if max_age else {}),
        DestinationConfig={"OnSuccess": {"Destination": arns[0]}, "OnFailure": {"Destination": arns[1]}})
    return name, urls[0], urls[1]


def send_events(server: CumuloServer, name: str, events: list[dict]) -> None:
    lambda_client = server.client("lambda")

    def send(event: dict) -> None:
        assert lambda_client.invoke(FunctionName=name, InvocationType="Event",
                                    Payload=json.dumps(event).encode())["StatusCode"] == 202
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, events))


class Records:
    """Destination records read (and deleted) from an SQS queue as they arrive."""

    def __init__(self, server: CumuloServer, url: str) -> None:
        self.sqs = server.client("sqs")
        self.url = url
        self.items: list[dict] = []

    def read(self) -> list[dict]:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return self.items
            for message in messages:
                self.items.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def wait(self, count: int, timeout: float) -> list[dict]:
        wait_for(lambda: len(self.read()) >= count, timeout=timeout, interval=0.2,
                 message=f"{count} destination records on {self.url}")
        return self.items


def most_at_once(records: list[dict]) -> int:
    """The largest number of invocations whose [start, end] intervals overlap."""
    edges = sorted([(r["responsePayload"]["start"], 1) for r in records] +
                   [(r["responsePayload"]["end"], -1) for r in records])
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    return peak


def test_reserved_concurrency_one_drains_a_backlog_of_200(server):
    name, ok_url, failed_url = deploy(server, reserved=1)
    send_events(server, name, [{"id": i} for i in range(200)])
    records = Records(server, ok_url).wait(200, timeout=60)
    assert sorted(r["requestPayload"]["id"] for r in records) == list(range(200))
    assert all(r["requestContext"]["condition"] == "Success" for r in records)
    assert most_at_once(records) == 1
    assert Records(server, failed_url).read() == []


def test_reserved_concurrency_two_never_runs_more_than_two(server):
    name, ok_url, _ = deploy(server, reserved=2)
    send_events(server, name, [{"id": i, "sleep": 0.1} for i in range(40)])
    records = Records(server, ok_url).wait(40, timeout=60)
    assert sorted(r["requestPayload"]["id"] for r in records) == list(range(40))
    assert most_at_once(records) == 2


def test_raised_reserved_concurrency_is_used_by_the_waiting_backlog(server):
    name, ok_url, _ = deploy(server, reserved=1)
    send_events(server, name, [{"id": i, "sleep": 0.3} for i in range(60)])
    server.client("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=6)
    records = Records(server, ok_url).wait(60, timeout=60)
    assert 3 <= most_at_once(records) <= 6


def test_events_held_by_a_reservation_of_zero_run_once_it_is_removed(server):
    """Reserved concurrency 0 stops a function: its events wait, and run when the reservation goes
    (DeleteFunctionConcurrency wakes them; the periodic probe would too, later)."""
    name, ok_url, _ = deploy(server, reserved=0)
    send_events(server, name, [{"id": i} for i in range(10)])
    removed_at = time.time()
    server.client("lambda").delete_function_concurrency(FunctionName=name)
    records = Records(server, ok_url).wait(10, timeout=30)
    assert sorted(r["requestPayload"]["id"] for r in records) == list(range(10))
    assert min(r["responsePayload"]["start"] for r in records) >= removed_at  # none ran while stopped


def test_event_age_is_enforced_while_waiting_for_concurrency(server):
    # MaximumEventAgeInSeconds=60 is 0.6 s on this server (CUMULO_RETRY_DELAY_SCALE=0.01): while one
    # event runs for 3 s on the only slot, the other two wait too long and go to the failure destination.
    name, ok_url, failed_url = deploy(server, reserved=1, max_age=60)
    send_events(server, name, [{"id": i, "sleep": 3} for i in range(3)])
    failures = Records(server, failed_url).wait(2, timeout=30)
    [success] = Records(server, ok_url).wait(1, timeout=30)
    assert {r["requestContext"]["condition"] for r in failures} == {"EventAgeExceeded"}
    assert sorted(r["requestPayload"]["id"] for r in [*failures, success]) == [0, 1, 2]
    assert all(r["responseContext"]["statusCode"] == 429 for r in failures)


def test_functions_sharing_the_account_limit_both_progress(small_account):
    busy, busy_ok, _ = deploy(small_account)
    other, other_ok, _ = deploy(small_account)
    send_events(small_account, busy, [{"id": i, "sleep": 0.1} for i in range(100)])
    send_events(small_account, other, [{"id": i, "sleep": 0.1} for i in range(5)])
    busy_records = Records(small_account, busy_ok)
    Records(small_account, other_ok).wait(5, timeout=60)
    # the other function's five events did not wait for the busy function's whole backlog
    assert len(busy_records.read()) < 100
    records = busy_records.wait(100, timeout=90)
    assert most_at_once(records) <= 2


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM])
def test_events_waiting_for_concurrency_survive_a_restart(tmp_path, stop_signal):
    first = CumuloServer(tmp_path / "data").start()
    try:
        name, ok_url, _ = deploy(first, reserved=1)
        send_events(first, name, [{"id": i, "sleep": 0.1} for i in range(30)])
        before = Records(first, ok_url).wait(3, timeout=30)
    finally:
        first.stop(stop_signal)  # most events are leased, waiting for the only slot
    second = CumuloServer(tmp_path / "data").start()
    try:
        records = Records(second, ok_url)
        wait_for(lambda: {r["requestPayload"]["id"] for r in before + records.read()} == set(range(30)),
                 timeout=60, interval=0.2, message="every event that had not run before the restart")
    finally:
        second.stop()
