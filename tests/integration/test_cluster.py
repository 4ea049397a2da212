"""Cluster mode: two real `cumulo serve --cluster` nodes on one PostgreSQL database and one
data directory, used through boto3 as a client behind a load balancer would.

Skipped (saying why) when no PostgreSQL server is reachable or the cluster extra is missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid

import pytest

from tests.conftest import make_zip
from tests.postgres import temporary_database
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


@pytest.fixture(scope="module")
def cluster_url():
    with temporary_database() as url:
        yield url


@pytest.fixture(scope="module")
def nodes(cluster_url, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("cluster") / "data"
    started: list[CumuloServer] = []
    try:
        for name in ("node-a", "node-b"):
            started.append(CumuloServer(data_dir, extra_args=["--cluster", cluster_url, "--node-name", name]).start())
        yield started
    finally:
        for node in started:
            node.stop()


def test_every_node_sees_the_cluster_in_its_health(nodes):
    for node in nodes:
        cluster = wait_for(lambda node=node: (c := node.health().get("cluster")) and len(c["nodes"]) == 2 and c,
                           message="both nodes in the health report")
        assert {(n["name"], n["up"]) for n in cluster["nodes"]} == {("node-a", True), ("node-b", True)}
        assert {n["endpoint"] for n in cluster["nodes"]} == {node.url for node in nodes}


def test_a_function_created_on_one_node_is_invoked_through_another(nodes):
    first, second = nodes
    name = f"fn-{uuid.uuid4().hex[:8]}"
    code = make_zip({"app.py": "import os\ndef handler(event, context):\n    return {'got': event}\n"})
    lambda_a = first.client("lambda")
    lambda_a.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                             Code={"ZipFile": code})
    lambda_a.get_waiter("function_active_v2").wait(FunctionName=name,
                                                WaiterConfig={"Delay": 0.1, "MaxAttempts": 200})
    response = second.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"n": 1}))
    assert json.loads(response["Payload"].read()) == {"got": {"n": 1}}
    lambda_a.update_function_configuration(FunctionName=name, Environment={"Variables": {"KEY1": "v"}})
    wait_for(lambda: second.client("lambda").get_function_configuration(FunctionName=name)
             .get("Environment", {}).get("Variables") == {"KEY1": "v"}, message="the update seen on node b")


def test_messages_sent_through_one_node_are_received_through_both_exactly_once(nodes):
    first = nodes[0]
    queue_url = first.client("sqs").create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sent = set()
    for batch in range(10):
        entries = [{"Id": str(i), "MessageBody": f"m{batch}-{i}"} for i in range(10)]
        first.client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
        sent |= {entry["MessageBody"] for entry in entries}
    received: list[list[str]] = [[], []]

    def consume(node: CumuloServer, into: list[str]) -> None:
        sqs = node.client("sqs")
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                              VisibilityTimeout=120).get("Messages", []):
            into.extend(message["Body"] for message in messages)

    threads = [threading.Thread(target=consume, args=(node, into))
               for node, into in zip(nodes, received, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(received[0] + received[1]) == sorted(sent)  # none twice within the visibility window
    assert received[0] and received[1]


def test_a_second_node_with_the_same_name_is_turned_away(nodes, cluster_url):
    twin = CumuloServer(nodes[0].data_dir, extra_args=["--cluster", cluster_url, "--node-name", "node-a"])
    with pytest.raises(AssertionError, match="exited with 3"):
        twin.start(timeout=20)
    assert "in use by another Cumulo server" in twin.log()


def test_a_long_poll_on_one_node_wakes_when_another_node_sends(nodes):
    first, second = nodes
    queue_url = first.client("sqs").create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    result: dict = {}

    def long_poll() -> None:
        began = time.monotonic()
        result["messages"] = second.client("sqs", read_timeout=30).receive_message(
            QueueUrl=queue_url, WaitTimeSeconds=20)["Messages"]
        result["took"] = time.monotonic() - began

    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(0.5)  # let the long poll start waiting (it returns the message either way)
    first.client("sqs").send_message(QueueUrl=queue_url, MessageBody="wake up")
    poller.join(30)
    assert [message["Body"] for message in result["messages"]] == ["wake up"]
    assert result["took"] < 10  # woken by the other node's hint, not by the end of the 20 s wait


def test_cluster_status_lists_the_nodes(nodes, cluster_url):
    shown = subprocess.run([sys.executable, "-m", "cumulo.cli.main", "cluster", "status", "--json",
                            "--cluster", cluster_url], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert {(n["name"], n["endpoint"], n["up"]) for n in json.loads(shown.stdout)} == {
        ("node-a", nodes[0].url, True), ("node-b", nodes[1].url, True)}


@pytest.fixture(scope="module")
def fast_clock_nodes(cluster_url, tmp_path_factory):
    """Two more nodes whose schedules run 60 times faster (rate(1 minute) fires every second)."""
    data_dir = tmp_path_factory.mktemp("cluster-clock") / "data"
    started: list[CumuloServer] = []
    try:
        for name in ("clock-a", "clock-b"):
            started.append(CumuloServer(data_dir, extra_args=["--cluster", cluster_url, "--node-name", name],
                                        env={"CUMULO_SCHEDULE_CLOCK_SPEED": "60"}).start())
        yield started
    finally:
        for node in started:
            node.stop()


def test_a_schedule_known_to_two_nodes_fires_once_per_period(fast_clock_nodes):
    first, second = fast_clock_nodes
    queue_url = first.client("sqs").create_queue(QueueName=f"ticks-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = first.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"tick-{uuid.uuid4().hex[:8]}"
    first.client("events").put_rule(Name=rule, ScheduleExpression="rate(1 minute)")
    first.client("events").put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    second.client("events").put_rule(Name=rule, ScheduleExpression="rate(1 minute)")  # both nodes time it now
    times: list[str] = []

    def collect() -> bool:
        messages = first.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                                       WaitTimeSeconds=1).get("Messages", [])
        times.extend(json.loads(message["Body"])["time"] for message in messages)
        return len(times) >= 6

    wait_for(collect, timeout=30, message="six scheduled events")
    assert len(times) == len(set(times)), sorted(times)  # no occurrence delivered by both nodes
    first.client("events").remove_targets(Rule=rule, Ids=["q"])
    first.client("events").delete_rule(Name=rule)
