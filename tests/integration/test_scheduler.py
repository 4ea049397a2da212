"""EventBridge Scheduler through boto3: schedule groups, schedules, validation, and firing targets.

The server runs with CUMULO_SCHEDULE_CLOCK_SPEED=240: from its creation on, a schedule's minute
passes in a quarter of a real second (``at(...)`` ten minutes ahead fires 2.5 s after creation).
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import time
import uuid
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError

from tests.server import CumuloServer, wait_for

SPEED = 240
MINUTE = 60 / SPEED
ACCOUNT = "000000000000"
REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/scheduler-role"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("scheduler") / "data",
                            env={"CUMULO_SCHEDULE_CLOCK_SPEED": str(SPEED),
                                 "CUMULO_EVENTS_RETRY_TIME_SCALE": "0.001"}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def scheduler(server):
    return server.client("scheduler")


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error(raised: pytest.ExceptionInfo) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def make_queue(sqs, name: str | None = None, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name or unique("q"), Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def collect(sqs, url: str, count: int, timeout: float = 15.0, **kwargs) -> list[dict]:
    received: list[dict] = []

    def enough() -> bool:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **kwargs)
        for message in answer.get("Messages", []):
            received.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(received) >= count

    wait_for(enough, timeout, message=f"{count} messages")
    return received


def at_expression(seconds_ahead: float, zone: str = "UTC") -> str:
    moment = dt.datetime.now(ZoneInfo(zone)) + dt.timedelta(seconds=seconds_ahead)
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


def target(arn: str, **members) -> dict:
    return {"Arn": arn, "RoleArn": ROLE, **members}


OFF = {"Mode": "OFF"}


# ------------------------------------------------------------ schedule groups
def test_schedule_groups(scheduler):
    name = unique("group")
    arn = scheduler.create_schedule_group(Name=name, Tags=[{"Key": "team", "Value": "a"}])["ScheduleGroupArn"]
    assert arn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{name}"
    group = scheduler.get_schedule_group(Name=name)
    assert group["Name"] == name and group["Arn"] == arn and group["State"] == "ACTIVE"
    assert group["CreationDate"] and group["LastModificationDate"]
    names = [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]]
    assert "default" in names and name in names
    assert [g["Name"] for g in scheduler.list_schedule_groups(NamePrefix=name)["ScheduleGroups"]] == [name]
    assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    scheduler.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    scheduler.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as raised:
        scheduler.create_schedule_group(Name=name)
    assert error(raised) == ("ConflictException", f"Schedule group {name} already exists.")
    scheduler.create_schedule(Name="inside", GroupName=name, ScheduleExpression="rate(1 day)", FlexibleTimeWindow=OFF,
                              Target=target(f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"))
    scheduler.delete_schedule_group(Name=name)  # deletes its schedules too
    with pytest.raises(ClientError) as raised:
        scheduler.get_schedule_group(Name=name)
    assert error(raised) == ("ResourceNotFoundException", f"Schedule group {name} does not exist.")
    with pytest.raises(ClientError) as raised:
        scheduler.get_schedule(Name="inside", GroupName=name)
    assert error(raised)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        scheduler.delete_schedule_group(Name="default")
    assert error(raised)[0] == "ValidationException"
    with pytest.raises(ClientError) as raised:
        scheduler.list_tags_for_resource(ResourceArn=arn)
    assert error(raised)[0] == "ResourceNotFoundException"


def test_list_schedule_groups_pages(scheduler):
    prefix = unique("pg")
    for index in range(3):
        scheduler.create_schedule_group(Name=f"{prefix}-{index}")
    first = scheduler.list_schedule_groups(NamePrefix=prefix, MaxResults=2)
    second = scheduler.list_schedule_groups(NamePrefix=prefix, MaxResults=2, NextToken=first["NextToken"])
    assert [g["Name"] for g in first["ScheduleGroups"] + second["ScheduleGroups"]] == [
        f"{prefix}-{i}" for i in range(3)]
    assert "NextToken" not in second


# ------------------------------------------------------------ schedules: API
def test_create_get_update_delete_schedule(scheduler):
    name = unique("sched")
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
    arn = scheduler.create_schedule(
        Name=name, ScheduleExpression="cron(0 9 ? * MON-FRI *)", ScheduleExpressionTimezone="Europe/Paris",
        StartDate=start, EndDate=start + dt.timedelta(days=30), Description="weekday mornings",
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
        Target=target(queue, Input="hello"))["ScheduleArn"]
    assert arn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}"
    got = scheduler.get_schedule(Name=name)
    assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == {
        "ActionAfterCompletion": "NONE", "Arn": arn, "CreationDate": got["CreationDate"],
        "Description": "weekday mornings", "EndDate": start + dt.timedelta(days=30),
        "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}, "GroupName": "default",
        "LastModificationDate": got["LastModificationDate"], "Name": name,
        "ScheduleExpression": "cron(0 9 ? * MON-FRI *)", "ScheduleExpressionTimezone": "Europe/Paris",
        "StartDate": start, "State": "ENABLED",
        "Target": {"Arn": queue, "RoleArn": ROLE, "Input": "hello",
                   "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}}}
    scheduler.update_schedule(Name=name, ScheduleExpression="rate(1 hour)", FlexibleTimeWindow=OFF, State="DISABLED",
                              Target=target(queue, RetryPolicy={"MaximumRetryAttempts": 2,
                                                                "MaximumEventAgeInSeconds": 60}))
    updated = scheduler.get_schedule(Name=name)
    assert updated["ScheduleExpression"] == "rate(1 hour)" and updated["State"] == "DISABLED"
    assert updated["ScheduleExpressionTimezone"] == "UTC" and "Description" not in updated  # replaced, not merged
    assert updated["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60}
    assert updated["CreationDate"] == got["CreationDate"]
    listed = scheduler.list_schedules(NamePrefix=name)["Schedules"]
    assert listed == [{"Arn": arn, "CreationDate": got["CreationDate"], "GroupName": "default",
                       "LastModificationDate": updated["LastModificationDate"], "Name": name, "State": "DISABLED",
                       "Target": {"Arn": queue}}]
    scheduler.delete_schedule(Name=name)
    with pytest.raises(ClientError) as raised:
        scheduler.get_schedule(Name=name)
    assert error(raised) == ("ResourceNotFoundException", f"Schedule {name} does not exist.")
    for operation in (scheduler.delete_schedule, scheduler.get_schedule):
        with pytest.raises(ClientError) as raised:
            operation(Name=name)
        assert error(raised)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        scheduler.update_schedule(Name=name, ScheduleExpression="rate(1 hour)", FlexibleTimeWindow=OFF,
                                  Target=target(queue))
    assert error(raised)[0] == "ResourceNotFoundException"


def test_list_schedules_filters_and_pages(scheduler):
    group = unique("lg")
    scheduler.create_schedule_group(Name=group)
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"
    for index in range(4):
        scheduler.create_schedule(Name=f"s-{index}", GroupName=group, ScheduleExpression="rate(1 day)",
                                  FlexibleTimeWindow=OFF, Target=target(queue),
                                  State="DISABLED" if index % 2 else "ENABLED")
    everything = scheduler.list_schedules(GroupName=group)["Schedules"]
    assert [s["Name"] for s in everything] == ["s-0", "s-1", "s-2", "s-3"]
    assert [s["Name"] for s in scheduler.list_schedules(GroupName=group, State="DISABLED")["Schedules"]] == [
        "s-1", "s-3"]
    first = scheduler.list_schedules(GroupName=group, MaxResults=3)
    second = scheduler.list_schedules(GroupName=group, MaxResults=3, NextToken=first["NextToken"])
    assert [s["Name"] for s in first["Schedules"]] == ["s-0", "s-1", "s-2"]
    assert [s["Name"] for s in second["Schedules"]] == ["s-3"] and "NextToken" not in second
    with pytest.raises(ClientError) as raised:
        scheduler.list_schedules(GroupName=unique("nogroup"))
    assert error(raised)[0] == "ResourceNotFoundException"


@pytest.mark.parametrize("expression", [
    "cron(0 1 * * * *)", "cron(7 20 * * NOT *)", "cron(INVALID)", "cron(0 dummy ? * MON-FRI *)", "cron(71 8 1 * ? *)",
    "cron()", "rate(10 seconds)", "rate(10 years)", "rate()", "rate(10)", "rate(10 minutess)", "rate(foo minutes)",
    "rate(-10 minutes)", "rate( 10 minutes )", " rate(10 minutes)", "at(2021-12-31T23:59:59Z)", "at(2021-12-31)",
    "rate(0 minute)",
])
def test_invalid_schedule_expressions(scheduler, expression):
    with pytest.raises(ClientError) as raised:
        scheduler.create_schedule(Name=unique("bad"), ScheduleExpression=expression, FlexibleTimeWindow=OFF,
                                  Target=target(f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"))
    assert error(raised) == ("ValidationException", f"Invalid Schedule Expression {expression}.")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("expression", ["rate(5 minute)", "rate(1 minutes)", "rate(2 hour)", "rate(1 days)"])
def test_rates_take_either_unit_form(scheduler, expression):
    """Unlike EventBridge rules, the Scheduler documents the unit as minute|minutes|... for any value."""
    name = unique("rate")
    scheduler.create_schedule(Name=name, ScheduleExpression=expression, FlexibleTimeWindow=OFF,
                              Target=target(f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"))
    assert scheduler.get_schedule(Name=name)["ScheduleExpression"] == expression
    scheduler.delete_schedule(Name=name)


def test_schedule_validation(scheduler):
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"
    now = dt.datetime.now(dt.UTC)

    def create(**members) -> tuple[str, str]:
        request = {"Name": unique("v"), "ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": OFF,
                   "Target": target(queue), **members}
        with pytest.raises(ClientError) as raised:
            scheduler.create_schedule(**request)
        return error(raised)

    assert create(ScheduleExpressionTimezone="Mars/Olympus")[0] == "ValidationException"
    assert create(FlexibleTimeWindow={"Mode": "FLEXIBLE"})[0] == "ValidationException"
    assert create(FlexibleTimeWindow={"Mode": "OFF", "MaximumWindowInMinutes": 5})[0] == "ValidationException"
    assert create(StartDate=now - dt.timedelta(minutes=10)) == (
        "ValidationException", "The StartDate you specify cannot be earlier than 5 minutes prior to the current time.")
    assert create(EndDate=now - dt.timedelta(minutes=1))[0] == "ValidationException"
    later, sooner = now + dt.timedelta(hours=2), now + dt.timedelta(hours=1)
    assert create(StartDate=later, EndDate=sooner)[0] == "ValidationException"
    assert create(GroupName=unique("nogroup"))[0] == "ResourceNotFoundException"
    assert create(Target=target(f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"))[0] == "ValidationException"
    assert create(Target=target(f"arn:aws:sqs:{REGION}:{ACCOUNT}:q.fifo"))[0] == "ValidationException"
    scheduler.create_schedule(Name=unique("kinesis"), ScheduleExpression="rate(1 hour)", FlexibleTimeWindow=OFF,
                              Target=target(f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/s",
                                            KinesisParameters={"PartitionKey": "k"}))  # served: accepted
    assert create(Target={"Arn": queue, "RoleArn": "not-a-role"})[0] == "ValidationException"
    name = unique("dup")
    scheduler.create_schedule(Name=name, ScheduleExpression="rate(1 hour)", FlexibleTimeWindow=OFF,
                              Target=target(queue))
    assert create(Name=name) == ("ConflictException", f"Schedule {name} already exists.")


# ------------------------------------------------------------ schedules: firing
def test_rate_schedule_fires_with_context_attributes(scheduler, sqs):
    url, arn = make_queue(sqs)
    name = unique("rate")
    schedule_arn = scheduler.create_schedule(
        Name=name, ScheduleExpression="rate(1 minute)", FlexibleTimeWindow=OFF,
        Target=target(arn, Input=json.dumps({"schedule": "<aws.scheduler.schedule-arn>",
                                             "at": "<aws.scheduler.scheduled-time>",
                                             "execution": "<aws.scheduler.execution-id>",
                                             "attempt": "<aws.scheduler.attempt-number>"})))["ScheduleArn"]
    bodies = [json.loads(m["Body"]) for m in collect(sqs, url, 3)]
    assert {b["schedule"] for b in bodies} == {schedule_arn}
    assert {b["attempt"] for b in bodies} == {"1"}
    assert len({b["execution"] for b in bodies}) == 3
    times = sorted(dt.datetime.strptime(b["at"], "%Y-%m-%dT%H:%M:%SZ") for b in bodies)
    assert times[1] - times[0] == dt.timedelta(minutes=1)  # schedule time: one minute apart
    scheduler.delete_schedule(Name=name)


def test_cron_schedule_in_a_time_zone(scheduler, sqs):
    url, arn = make_queue(sqs)
    name = unique("cron")
    scheduler.create_schedule(Name=name, ScheduleExpression="cron(* * * * ? *)",
                              ScheduleExpressionTimezone="Asia/Kolkata", FlexibleTimeWindow=OFF,
                              Target=target(arn, Input='"<aws.scheduler.scheduled-time>"'))
    body = json.loads(collect(sqs, url, 1)[0]["Body"])
    assert body.endswith(":00Z")  # on the minute (UTC+05:30 minutes are UTC minutes)
    scheduler.delete_schedule(Name=name)


def test_one_time_schedule_deletes_itself(scheduler, sqs):
    url, arn = make_queue(sqs)
    name = unique("once")
    scheduler.create_schedule(Name=name, ScheduleExpression=at_expression(5 * 60, "America/New_York"),
                              ScheduleExpressionTimezone="America/New_York", ActionAfterCompletion="DELETE",
                              FlexibleTimeWindow=OFF, Target=target(arn, Input="once"))
    started = time.monotonic()
    assert [m["Body"] for m in collect(sqs, url, 1)] == ["once"]
    assert time.monotonic() - started >= 4 * MINUTE  # five schedule minutes after creation

    def gone() -> bool:
        try:
            scheduler.get_schedule(Name=name)
        except ClientError as failure:
            return failure.response["Error"]["Code"] == "ResourceNotFoundException"
        return False

    wait_for(gone, 5)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None


def test_one_time_schedule_kept_after_completion(scheduler, sqs):
    url, arn = make_queue(sqs)
    name = unique("kept")
    scheduler.create_schedule(Name=name, ScheduleExpression=at_expression(-3600), FlexibleTimeWindow=OFF,
                              Target=target(arn, Input="late"))  # in the past: fires at once
    assert [m["Body"] for m in collect(sqs, url, 1)] == ["late"]
    assert scheduler.get_schedule(Name=name)["State"] == "ENABLED"
    time.sleep(2 * MINUTE)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None  # only once


def test_start_and_end_dates_bound_a_rate(scheduler, sqs):
    url, arn = make_queue(sqs)
    name = unique("bounded")
    start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=3)
    scheduler.create_schedule(Name=name, ScheduleExpression="rate(1 minute)", FlexibleTimeWindow=OFF,
                              StartDate=start, EndDate=start + dt.timedelta(seconds=150),
                              ActionAfterCompletion="DELETE",
                              Target=target(arn, Input='"<aws.scheduler.scheduled-time>"'))
    bodies = sorted(json.loads(m["Body"]) for m in collect(sqs, url, 3))
    assert bodies[0] == start.strftime("%Y-%m-%dT%H:%M:%SZ")  # the first fire is the start date
    time.sleep(3 * MINUTE)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None  # nothing after EndDate
    with pytest.raises(ClientError):
        scheduler.get_schedule(Name=name)


def test_flexible_window_and_disabled_schedules(scheduler, sqs):
    url, arn = make_queue(sqs)
    flexible = unique("flex")
    scheduler.create_schedule(Name=flexible, ScheduleExpression="rate(1 minute)",
                              FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1},
                              Target=target(arn, Input="flex"))
    assert {m["Body"] for m in collect(sqs, url, 2)} == {"flex"}
    scheduler.update_schedule(Name=flexible, ScheduleExpression="rate(1 minute)", FlexibleTimeWindow=OFF,
                              State="DISABLED", Target=target(arn, Input="flex"))
    time.sleep(MINUTE)
    sqs.purge_queue(QueueUrl=url)
    time.sleep(3 * MINUTE)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None


def test_fifo_queue_target(scheduler, sqs):
    url, arn = make_queue(sqs, unique("q") + ".fifo", FifoQueue="true")
    name = unique("fifo")
    scheduler.create_schedule(Name=name, ScheduleExpression=at_expression(0), FlexibleTimeWindow=OFF,
                              Target=target(arn, Input="ordered", SqsParameters={"MessageGroupId": "g1"}))
    message = collect(sqs, url, 1, MessageSystemAttributeNames=["MessageGroupId"])[0]
    assert message["Body"] == "ordered" and message["Attributes"]["MessageGroupId"] == "g1"


def test_eventbridge_put_events_target(server, scheduler, sqs):
    events = server.client("events")
    url, arn = make_queue(sqs)
    source = unique("scheduled.app")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    name = unique("to-bus")
    schedule_arn = scheduler.create_schedule(
        Name=name, ScheduleExpression=at_expression(0), FlexibleTimeWindow=OFF,
        Target=target(f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default", Input='{"report": "daily"}',
                      EventBridgeParameters={"DetailType": "Report Due", "Source": source}))["ScheduleArn"]
    event = json.loads(collect(sqs, url, 1)[0]["Body"])
    assert event["source"] == source and event["detail-type"] == "Report Due"
    assert event["detail"] == {"report": "daily"} and event["resources"] == [schedule_arn]


def test_universal_target(scheduler, sqs):
    url, _ = make_queue(sqs)
    name = unique("universal")
    scheduler.create_schedule(Name=name, ScheduleExpression=at_expression(0), FlexibleTimeWindow=OFF,
                              Target=target("arn:aws:scheduler:::aws-sdk:sqs:sendMessage",
                                            Input=json.dumps({"QueueUrl": url, "MessageBody": "via the SDK",
                                                              "MessageAttributes": {"k": {
                                                                  "DataType": "String", "StringValue": "v"}}})))
    message = collect(sqs, url, 1, MessageAttributeNames=["All"])[0]
    assert message["Body"] == "via the SDK" and message["MessageAttributes"]["k"]["StringValue"] == "v"


def test_sns_and_step_functions_targets(server, scheduler, sqs):
    sns, sfn = server.client("sns"), server.client("stepfunctions")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    url, queue = make_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "true"})
    machine = sfn.create_state_machine(name=unique("sm"), roleArn=ROLE, definition=json.dumps(
        {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    scheduler.create_schedule(Name=unique("to-sns"), ScheduleExpression=at_expression(0), FlexibleTimeWindow=OFF,
                              Target=target(topic, Input="to the topic"))
    scheduler.create_schedule(Name=unique("to-sfn"), ScheduleExpression=at_expression(0), FlexibleTimeWindow=OFF,
                              Target=target(machine, Input='{"templated": true}'))
    scheduler.create_schedule(Name=unique("sdk-sfn"), ScheduleExpression=at_expression(0), FlexibleTimeWindow=OFF,
                              Target=target("arn:aws:scheduler:::aws-sdk:sfn:startExecution", Input=json.dumps(
                                  {"StateMachineArn": machine, "Input": '{"universal": true}'})))
    assert [m["Body"] for m in collect(sqs, url, 1)] == ["to the topic"]

    def inputs() -> set[str] | None:
        found = {sfn.describe_execution(executionArn=e["executionArn"])["input"]
                 for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
        return found if len(found) == 2 else None

    assert {json.dumps(json.loads(i), sort_keys=True) for i in wait_for(inputs, 10)} == {
        '{"templated": true}', '{"universal": true}'}


def test_failed_invocation_goes_to_the_dead_letter_queue(scheduler, sqs):
    dlq_url, dlq_arn = make_queue(sqs)
    name = unique("doomed")
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{unique('gone')}"
    schedule_arn = scheduler.create_schedule(
        Name=name, ScheduleExpression=at_expression(0), FlexibleTimeWindow=OFF,
        Target=target(missing, Input="payload", DeadLetterConfig={"Arn": dlq_arn},
                      RetryPolicy={"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60}))["ScheduleArn"]
    message = collect(sqs, dlq_url, 1, MessageAttributeNames=["All"])[0]
    found = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert message["Body"] == "payload"
    assert found["SCHEDULE_ARN"] == schedule_arn and found["TARGET_ARN"] == missing
    assert found["ERROR_CODE"] == "NO_RESOURCE" and found["RETRY_ATTEMPTS"] == "0" and found["INVOCATION_ID"]


def test_retries_exhausted_go_to_the_dead_letter_queue(server, scheduler, sqs):
    dlq_url, dlq_arn = make_queue(sqs)  # a SageMaker pipeline: a service Cumulo does not serve
    scheduler.create_schedule(
        Name=unique("retry"), ScheduleExpression=at_expression(0), FlexibleTimeWindow=OFF,
        Target=target(f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/nightly", Input="{}",
                      DeadLetterConfig={"Arn": dlq_arn}, RetryPolicy={"MaximumRetryAttempts": 2}))
    found = {k: v["StringValue"] for k, v in
             collect(sqs, dlq_url, 1, MessageAttributeNames=["All"])[0]["MessageAttributes"].items()}
    assert found["ERROR_CODE"] == "SDK_CLIENT_ERROR" and found["RETRY_ATTEMPTS"] == "2"
    assert found["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttemptsExhausted"


# ------------------------------------------------------------ restarts
def test_schedules_survive_kill_9_and_missed_fires_run_once(tmp_path):
    data = tmp_path / "data"
    first = CumuloServer(data).start()  # the real clock
    sqs = first.client("sqs")
    url = sqs.create_queue(QueueName="restart")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    scheduler = first.client("scheduler")
    scheduler.create_schedule(Name="soon", ScheduleExpression=at_expression(2), FlexibleTimeWindow=OFF,
                              ActionAfterCompletion="DELETE", Target=target(arn, Input="missed"))
    scheduler.create_schedule(Name="daily", ScheduleExpression="rate(1 day)",
                              StartDate=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1), FlexibleTimeWindow=OFF,
                              Target=target(arn, Input="daily"))
    first.stop(signal.SIGKILL)
    time.sleep(3)  # the one-time schedule's time passes while the server is down
    second = CumuloServer(data).start()
    try:
        sqs, scheduler = second.client("sqs"), second.client("scheduler")
        assert [m["Body"] for m in collect(sqs, url, 1)] == ["missed"]
        assert [s["Name"] for s in scheduler.list_schedules()["Schedules"]] == ["daily"]
        assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None
    finally:
        second.stop()
