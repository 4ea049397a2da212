"""EventBridge archives and replays through boto3 against a real server: archiving by pattern,
retention that really deletes, replays with time ranges, FilterArns, ``replay-name`` and
cancellation."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.server import CumuloServer, wait_for

ACCOUNT = "000000000000"
REGION = "us-east-1"
DAY_S = 2  # one retention day lasts 2 s on this server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("archives") / "data",
                            env={"CUMULO_EVENTS_ARCHIVE_DAY_SECONDS": str(DAY_S)}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def events(server):
    return server.client("events")


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error(raised: pytest.ExceptionInfo) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def new_bus(events) -> tuple[str, str]:
    name = unique("bus")
    return name, events.create_event_bus(Name=name)["EventBusArn"]


def put(events, bus: str, times: list[dt.datetime], source: str = "shop") -> None:
    for start in range(0, len(times), 10):
        entries = [{"Source": source, "DetailType": "Order", "EventBusName": bus, "Time": moment,
                    "Detail": json.dumps({"n": start + i})} for i, moment in enumerate(times[start:start + 10])]
        assert events.put_events(Entries=entries)["FailedEntryCount"] == 0


def queue_target(sqs) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receive_all(sqs, url: str, count: int) -> list[dict]:
    bodies: list[dict] = []

    def more() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(bodies) >= count

    wait_for(more, 15, message=f"{count} messages")
    return bodies


def replay_state(events, name: str, *states: str) -> dict:
    return wait_for(lambda: (lambda r: r if r["State"] in states else None)(events.describe_replay(ReplayName=name)),
                    20, message=f"replay {name} in {states}")


BASE = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


# ------------------------------------------------------------ archives
def test_archive_crud_and_errors(events):
    bus, bus_arn = new_bus(events)
    name = unique("arch")
    created = events.create_archive(ArchiveName=name, EventSourceArn=bus_arn, Description="orders",
                                    EventPattern=json.dumps({"source": ["shop"]}), RetentionDays=7)
    assert created["ArchiveArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:archive/{name}"
    assert created["State"] == "ENABLED"
    described = events.describe_archive(ArchiveName=name)
    assert (described["EventSourceArn"], described["RetentionDays"], described["EventCount"],
            described["Description"]) == (bus_arn, 7, 0, "orders")
    events.update_archive(ArchiveName=name, RetentionDays=0, Description="all")
    assert events.describe_archive(ArchiveName=name)["RetentionDays"] == 0
    listed = events.list_archives(EventSourceArn=bus_arn)["Archives"]
    assert [a["ArchiveName"] for a in listed] == [name]
    with pytest.raises(ClientError) as raised:
        events.create_archive(ArchiveName=name, EventSourceArn=bus_arn)
    assert error(raised) == ("ResourceAlreadyExistsException", f"Archive {name} already exists.")
    with pytest.raises(ClientError) as raised:
        events.create_archive(ArchiveName=unique("arch"), EventSourceArn=bus_arn, EventPattern='{"source": "x"}')
    assert error(raised)[0] == "InvalidEventPatternException"
    missing_bus = bus_arn.replace(bus, "nope-" + bus)
    with pytest.raises(ClientError) as raised:
        events.create_archive(ArchiveName=unique("arch"), EventSourceArn=missing_bus)
    assert error(raised) == ("ResourceNotFoundException", f"Event bus nope-{bus} does not exist.")
    events.delete_archive(ArchiveName=name)
    with pytest.raises(ClientError) as raised:
        events.describe_archive(ArchiveName=name)
    assert error(raised) == ("ResourceNotFoundException", f"Archive {name} does not exist.")


def test_only_matching_events_are_archived(events):
    bus, bus_arn = new_bus(events)
    name = unique("arch")
    events.create_archive(ArchiveName=name, EventSourceArn=bus_arn, EventPattern=json.dumps({"source": ["shop"]}))
    put(events, bus, [BASE] * 3)
    put(events, bus, [BASE] * 2, source="other")
    described = events.describe_archive(ArchiveName=name)
    assert described["EventCount"] == 3 and described["SizeBytes"] > 0


def test_retention_really_deletes_expired_events(events):
    bus, bus_arn = new_bus(events)
    name = unique("arch")
    events.create_archive(ArchiveName=name, EventSourceArn=bus_arn, RetentionDays=1)
    put(events, bus, [BASE] * 4)
    assert events.describe_archive(ArchiveName=name)["EventCount"] == 4
    wait_for(lambda: events.describe_archive(ArchiveName=name)["EventCount"] == 0, 10, message="expiry")
    replay = unique("rp")
    events.start_replay(ReplayName=replay, EventSourceArn=events.describe_archive(ArchiveName=name)["ArchiveArn"],
                        EventStartTime=BASE - dt.timedelta(hours=1), EventEndTime=BASE + dt.timedelta(hours=1),
                        Destination={"Arn": bus_arn})
    assert replay_state(events, replay, "COMPLETED").get("EventLastReplayedTime") is None


# ------------------------------------------------------------ replays
def test_replay_time_range_filter_arns_and_replay_name(events, sqs):
    bus, bus_arn = new_bus(events)
    archive = unique("arch")
    archive_arn = events.create_archive(ArchiveName=archive, EventSourceArn=bus_arn)["ArchiveArn"]
    times = [BASE + dt.timedelta(minutes=m) for m in (50, 10, 40, 20, 30)]  # put out of order
    put(events, bus, times)
    wanted_url, wanted_arn = queue_target(sqs)
    other_url, other_arn = queue_target(sqs)
    rule = unique("rule")
    rule_arn = events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["shop"]}))["RuleArn"]
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": wanted_arn}])
    other = unique("rule")
    events.put_rule(Name=other, EventBusName=bus, EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule=other, EventBusName=bus, Targets=[{"Id": "q", "Arn": other_arn}])

    replay = unique("rp")
    started = events.start_replay(ReplayName=replay, EventSourceArn=archive_arn, Description="again",
                                  EventStartTime=BASE + dt.timedelta(minutes=15),
                                  EventEndTime=BASE + dt.timedelta(minutes=40),
                                  Destination={"Arn": bus_arn, "FilterArns": [rule_arn]})
    assert started["State"] == "STARTING"
    assert started["ReplayArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:replay/{replay}"
    done = replay_state(events, replay, "COMPLETED")
    assert done["EventLastReplayedTime"] == BASE + dt.timedelta(minutes=40)
    assert done["ReplayEndTime"] >= done["ReplayStartTime"]
    assert done["Destination"] == {"Arn": bus_arn, "FilterArns": [rule_arn]}
    bodies = receive_all(sqs, wanted_url, 3)
    assert sorted(b["time"] for b in bodies) == ["2026-01-01T12:20:00Z", "2026-01-01T12:30:00Z",
                                                 "2026-01-01T12:40:00Z"]
    assert {b["replay-name"] for b in bodies} == {replay}
    assert sqs.receive_message(QueueUrl=wanted_url, WaitTimeSeconds=1).get("Messages") is None
    assert sqs.receive_message(QueueUrl=other_url, WaitTimeSeconds=1).get("Messages") is None
    assert events.describe_archive(ArchiveName=archive)["EventCount"] == 5  # replays are not archived again
    listed = events.list_replays(EventSourceArn=archive_arn)["Replays"]
    assert [(r["ReplayName"], r["State"]) for r in listed] == [(replay, "COMPLETED")]

    with pytest.raises(ClientError) as raised:
        events.cancel_replay(ReplayName=replay)
    assert error(raised)[0] == "IllegalStatusException"


def test_replay_errors(events):
    _, bus_arn = new_bus(events)
    _, other_arn = new_bus(events)
    archive_arn = events.create_archive(ArchiveName=unique("arch"), EventSourceArn=bus_arn)["ArchiveArn"]
    window = {"EventStartTime": BASE, "EventEndTime": BASE + dt.timedelta(hours=1)}
    with pytest.raises(ClientError) as raised:
        events.start_replay(ReplayName=unique("rp"), EventSourceArn=archive_arn, Destination={"Arn": other_arn},
                            **window)
    assert error(raised) == ("ValidationException", "Parameter Destination.Arn is not valid. Reason: Cross event "
                                                    "bus replay is not permitted.")
    with pytest.raises(ClientError) as raised:
        events.start_replay(ReplayName=unique("rp"), EventSourceArn=archive_arn, Destination={"Arn": bus_arn},
                            EventStartTime=BASE, EventEndTime=BASE)
    assert error(raised)[0] == "ValidationException"
    with pytest.raises(ClientError) as raised:
        events.start_replay(ReplayName=unique("rp"), EventSourceArn=archive_arn + "-missing",
                            Destination={"Arn": bus_arn}, **window)
    assert error(raised)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        events.describe_replay(ReplayName="no-such-replay")
    assert error(raised) == ("ResourceNotFoundException", "Replay no-such-replay does not exist.")


def test_cancel_a_running_replay(events, sqs):
    bus, bus_arn = new_bus(events)
    archive_arn = events.create_archive(ArchiveName=unique("arch"), EventSourceArn=bus_arn)["ArchiveArn"]
    count = 1500
    put(events, bus, [BASE + dt.timedelta(seconds=i) for i in range(count)])
    _, queue = queue_target(sqs)
    rule = unique("rule")
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": queue}])
    replay = unique("rp")
    events.start_replay(ReplayName=replay, EventSourceArn=archive_arn, Destination={"Arn": bus_arn},
                        EventStartTime=BASE, EventEndTime=BASE + dt.timedelta(hours=1))
    assert events.cancel_replay(ReplayName=replay)["State"] == "CANCELLING"
    cancelled = replay_state(events, replay, "CANCELLED")
    assert cancelled["ReplayEndTime"]
    last = cancelled.get("EventLastReplayedTime")
    assert last is None or last < BASE + dt.timedelta(seconds=count - 1)


def test_archive_in_a_template(server, events):
    cloudformation = server.client("cloudformation")
    stack = unique("arch-stack")
    template = {"Resources": {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": unique("bus")}},
        "Archive": {"Type": "AWS::Events::Archive", "Properties": {
            "SourceArn": {"Fn::GetAtt": ["Bus", "Arn"]}, "RetentionDays": 3,
            "EventPattern": {"source": ["shop"]}}}},
        "Outputs": {"ArchiveArn": {"Value": {"Fn::GetAtt": ["Archive", "Arn"]}},
                    "ArchiveName": {"Value": {"Ref": "Archive"}}}}
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    described = wait_for(lambda: (lambda s: s if s["StackStatus"].endswith("COMPLETE") else None)(
        cloudformation.describe_stacks(StackName=stack)["Stacks"][0]), 30, message="stack")
    assert described["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    archive = events.describe_archive(ArchiveName=outputs["ArchiveName"])
    assert archive["ArchiveArn"] == outputs["ArchiveArn"] and archive["RetentionDays"] == 3
    assert json.loads(archive["EventPattern"]) == {"source": ["shop"]}
    cloudformation.delete_stack(StackName=stack)
    wait_for(lambda: not events.list_archives(NamePrefix=outputs["ArchiveName"])["Archives"], 30, message="delete")
