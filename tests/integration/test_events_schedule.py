"""Scheduled rules fire the "Scheduled Event" on their rate or cron schedule.

The server runs with CUMULO_SCHEDULE_CLOCK_SPEED=300: a schedule minute passes in 0.2 real seconds.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.server import CumuloServer, wait_for

SPEED = 300
MINUTE = 60 / SPEED  # real seconds per schedule minute


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("schedule") / "data",
                            env={"CUMULO_SCHEDULE_CLOCK_SPEED": str(SPEED)}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def events(server):
    return server.client("events")


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


def make_queue(sqs) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def collect(sqs, url: str, count: int, timeout: float = 15.0) -> list[str]:
    bodies: list[str] = []

    def enough() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(bodies) >= count

    wait_for(enough, timeout, message=f"{count} scheduled events")
    return bodies


def test_cron_rule_fires_the_scheduled_event(events, sqs):
    url, arn = make_queue(sqs)
    name = f"every-minute-{uuid.uuid4().hex[:6]}"
    rule_arn = events.put_rule(Name=name, ScheduleExpression="cron(* * * * ? *)")["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
    bodies = [json.loads(b) for b in collect(sqs, url, 2)]
    for event in bodies:
        assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources",
                               "detail"]
        assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
        assert event["resources"] == [rule_arn] and event["detail"] == {}
        assert event["account"] == "000000000000" and event["region"] == "us-east-1"
        assert event["time"].endswith(":00Z")  # cron fires on the minute
    assert bodies[0]["time"] < bodies[1]["time"] and bodies[0]["id"] != bodies[1]["id"]
    events.remove_targets(Rule=name, Ids=["q"])
    events.delete_rule(Name=name)


def test_rate_rule_with_constant_input_and_transformer(events, sqs):
    url, arn = make_queue(sqs)
    name = f"rate-{uuid.uuid4().hex[:6]}"
    events.put_rule(Name=name, ScheduleExpression="rate(2 minutes)")
    events.put_targets(Rule=name, Targets=[
        {"Id": "constant", "Arn": arn, "Input": '{"job": "cleanup"}'},
        {"Id": "shaped", "Arn": arn, "InputTransformer": {"InputPathsMap": {"t": "$.time", "r": "$.resources[0]"},
                                                         "InputTemplate": '{"at": <t>, "rule": <r>}'}}])
    started = time.monotonic()
    bodies = collect(sqs, url, 4, timeout=20)
    assert time.monotonic() - started >= 1.5 * MINUTE  # the first fire is one period after creation
    assert bodies.count('{"job": "cleanup"}') >= 2
    shaped = [json.loads(b) for b in bodies if b.startswith('{"at"')]
    assert shaped and shaped[0]["rule"].endswith(f":rule/{name}")
    events.remove_targets(Rule=name, Ids=["constant", "shaped"])


def test_disabled_scheduled_rule_stops_and_resumes(events, sqs):
    url, arn = make_queue(sqs)
    name = f"toggle-{uuid.uuid4().hex[:6]}"
    events.put_rule(Name=name, ScheduleExpression="rate(1 minute)", State="DISABLED")
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
    time.sleep(3 * MINUTE)  # let a few schedule minutes pass: a disabled rule must stay silent
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    events.enable_rule(Name=name)
    collect(sqs, url, 1)
    events.disable_rule(Name=name)
    time.sleep(MINUTE)
    sqs.purge_queue(QueueUrl=url)
    time.sleep(3 * MINUTE)
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None


def test_schedule_and_pattern_on_one_rule(events, sqs):
    url, arn = make_queue(sqs)
    name = f"both-{uuid.uuid4().hex[:6]}"
    events.put_rule(Name=name, ScheduleExpression="cron(* * * * ? *)",
                    EventPattern=json.dumps({"source": ["manual.trigger"]}))
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
    events.put_events(Entries=[{"Source": "manual.trigger", "DetailType": "Kick", "Detail": "{}"}])
    kinds = {json.loads(b)["detail-type"] for b in collect(sqs, url, 3)}
    assert kinds == {"Kick", "Scheduled Event"}
    events.remove_targets(Rule=name, Ids=["q"])
