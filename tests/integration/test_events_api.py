"""EventBridge's control plane through boto3: buses, rules, targets, tags, permissions, errors."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"
REGION = "us-east-1"
PATTERN = json.dumps({"source": ["my.app"], "detail-type": ["Order Placed"]})


@pytest.fixture
def events(server):
    return server.client("events")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error(raised: pytest.ExceptionInfo) -> tuple[str, str]:
    response = raised.value.response
    return response["Error"]["Code"], response["Error"]["Message"]


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


# ------------------------------------------------------------ buses
def test_default_bus_always_exists(events):
    buses = events.list_event_buses()["EventBuses"]
    default = next(bus for bus in buses if bus["Name"] == "default")
    assert default["Arn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    described = events.describe_event_bus()
    assert described["Name"] == "default" and described["Arn"] == default["Arn"]
    assert events.describe_event_bus(Name=default["Arn"])["Name"] == "default"


def test_create_describe_list_update_delete_bus(events):
    name = unique("bus")
    created = events.create_event_bus(Name=name, Description="orders", Tags=[{"Key": "team", "Value": "a"}])
    arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"
    assert created["EventBusArn"] == arn and created["Description"] == "orders"
    described = events.describe_event_bus(Name=name)
    assert described["Name"] == name and described["Arn"] == arn and described["Description"] == "orders"
    assert described["CreationTime"] and described["LastModifiedTime"]
    assert "Policy" not in described
    listed = events.list_event_buses(NamePrefix=name)["EventBuses"]
    assert [bus["Name"] for bus in listed] == [name]
    updated = events.update_event_bus(Name=name, Description="all orders")
    assert updated["Arn"] == arn and updated["Description"] == "all orders"
    assert events.describe_event_bus(Name=arn)["Description"] == "all orders"
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    events.delete_event_bus(Name=name)
    with pytest.raises(ClientError) as raised:
        events.describe_event_bus(Name=name)
    assert error(raised) == ("ResourceNotFoundException", f"Event bus {name} does not exist.")
    events.delete_event_bus(Name=name)  # deleting again is not an error


def test_bus_errors(events):
    name = unique("bus")
    events.create_event_bus(Name=name)
    with pytest.raises(ClientError) as raised:
        events.create_event_bus(Name=name)
    assert error(raised) == ("ResourceAlreadyExistsException", f"Event bus {name} already exists.")
    with pytest.raises(ClientError) as raised:
        events.create_event_bus(Name="default")
    assert error(raised)[0] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as raised:
        events.delete_event_bus(Name="default")
    assert error(raised) == ("ValidationException", "Cannot delete event bus default.")
    with pytest.raises(ClientError) as raised:
        events.create_event_bus(Name="bad name!")
    code, message = error(raised)
    assert code == "ValidationException" and "at 'name' failed to satisfy constraint" in message
    with pytest.raises(ClientError) as raised:
        events.create_event_bus(Name="partner", EventSourceName="aws.partner/example.com/123/source")
    assert error(raised)[0] == "ResourceNotFoundException"


def test_list_event_buses_pages(events):
    prefix = unique("page")
    for index in range(5):
        events.create_event_bus(Name=f"{prefix}-{index}")
    first = events.list_event_buses(NamePrefix=prefix, Limit=3)
    assert [bus["Name"] for bus in first["EventBuses"]] == [f"{prefix}-{i}" for i in range(3)]
    second = events.list_event_buses(NamePrefix=prefix, Limit=3, NextToken=first["NextToken"])
    assert [bus["Name"] for bus in second["EventBuses"]] == [f"{prefix}-3", f"{prefix}-4"]
    assert "NextToken" not in second
    with pytest.raises(ClientError) as raised:
        events.list_event_buses(NextToken="garbage")
    assert error(raised)[0] == "ValidationException"


# ------------------------------------------------------------ permissions
def test_put_and_remove_permission(events):
    name = unique("bus")
    arn = events.create_event_bus(Name=name)["EventBusArn"]
    events.put_permission(EventBusName=name, Action="events:PutEvents", Principal="111122223333", StatementId="one")
    events.put_permission(EventBusName=name, Action="events:PutEvents", Principal="*", StatementId="org",
                          Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-123"})
    policy = json.loads(events.describe_event_bus(Name=name)["Policy"])
    assert policy == {"Version": "2012-10-17", "Statement": [
        {"Sid": "one", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": "events:PutEvents", "Resource": arn},
        {"Sid": "org", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents", "Resource": arn,
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-123"}}}]}
    assert "Policy" in next(b for b in events.list_event_buses(NamePrefix=name)["EventBuses"])
    with pytest.raises(ClientError) as raised:
        events.put_permission(EventBusName=name, Action="events:PutRule", Principal="*", StatementId="x")
    assert error(raised) == ("ValidationException", "Provided value in parameter 'action' is not supported.")
    events.remove_permission(EventBusName=name, StatementId="one")
    assert [s["Sid"] for s in json.loads(events.describe_event_bus(Name=name)["Policy"])["Statement"]] == ["org"]
    with pytest.raises(ClientError) as raised:
        events.remove_permission(EventBusName=name, StatementId="one")
    assert error(raised) == ("ResourceNotFoundException", "Statement with the provided id does not exist.")
    document = {"Version": "2012-10-17", "Statement": [{"Sid": "svc", "Effect": "Allow", "Action": "events:ListRules",
                                                         "Principal": {"Service": "events.amazonaws.com"},
                                                         "Resource": "*"}]}
    events.put_permission(EventBusName=name, Policy=json.dumps(document))
    assert json.loads(events.describe_event_bus(Name=name)["Policy"]) == document
    events.remove_permission(EventBusName=name, RemoveAllPermissions=True)
    assert "Policy" not in events.describe_event_bus(Name=name)
    with pytest.raises(ClientError) as raised:
        events.put_permission(EventBusName=unique("nobus"), Action="events:PutEvents", Principal="*",
                              StatementId="x")
    assert error(raised)[0] == "ResourceNotFoundException"


# ------------------------------------------------------------ rules
@pytest.mark.parametrize("on_custom_bus", [False, True])
def test_rule_lifecycle(events, on_custom_bus):
    bus = unique("bus") if on_custom_bus else "default"
    if on_custom_bus:
        events.create_event_bus(Name=bus)
    name = unique("rule")
    arn = events.put_rule(Name=name, EventBusName=bus, EventPattern=PATTERN, Description="orders")["RuleArn"]
    expected_arn = (f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/{name}" if on_custom_bus
                    else f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}")
    assert arn == expected_arn
    described = events.describe_rule(Name=name, EventBusName=bus)
    assert {k: v for k, v in described.items() if k != "ResponseMetadata"} == {
        "Name": name, "Arn": arn, "EventPattern": PATTERN, "State": "ENABLED", "Description": "orders",
        "EventBusName": bus, "CreatedBy": ACCOUNT}
    assert [r["Name"] for r in events.list_rules(EventBusName=bus, NamePrefix=name)["Rules"]] == [name]
    listed = events.list_rules(EventBusName=bus, NamePrefix=name)["Rules"][0]
    assert "CreatedBy" not in listed and listed["Arn"] == arn
    events.disable_rule(Name=name, EventBusName=bus)
    assert events.describe_rule(Name=name, EventBusName=bus)["State"] == "DISABLED"
    events.enable_rule(Name=name, EventBusName=bus)
    assert events.describe_rule(Name=name, EventBusName=bus)["State"] == "ENABLED"
    # PutRule replaces the rule: members not given again are dropped
    events.put_rule(Name=name, EventBusName=bus, EventPattern=PATTERN,
                    State="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
    again = events.describe_rule(Name=name, EventBusName=bus)
    assert again["State"] == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" and "Description" not in again
    events.delete_rule(Name=name, EventBusName=bus)
    assert events.list_rules(EventBusName=bus, NamePrefix=name)["Rules"] == []
    events.delete_rule(Name=name, EventBusName=bus)  # idempotent


def test_rule_by_bus_arn(events):
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    name = unique("rule")
    events.put_rule(Name=name, EventBusName=bus_arn, EventPattern=PATTERN)
    assert events.describe_rule(Name=name, EventBusName=bus_arn)["EventBusName"] == bus


def test_rule_errors(events):
    name = unique("rule")
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name=name)
    assert error(raised) == ("ValidationException",
                             "Parameter(s) EventPattern or ScheduleExpression must be specified.")
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name=name, ScheduleExpression="rate(5 minute)")
    assert error(raised) == ("ValidationException", "Parameter ScheduleExpression is not valid.")
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name=name, ScheduleExpression="cron(0 1 * * * *)")
    assert error(raised) == ("ValidationException", "Parameter ScheduleExpression is not valid.")
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name=name, EventBusName=bus, ScheduleExpression="rate(5 minutes)")
    assert error(raised) == ("ValidationException", "ScheduleExpression is supported only on the default event bus.")
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name=name, EventPattern=json.dumps({"source": "my.app"}))
    assert error(raised) == ("InvalidEventPatternException",
                             'Event pattern is not valid. Reason: "source" must be an object or an array')
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name=name, EventPattern="{not json")
    assert error(raised)[0] == "InvalidEventPatternException"
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name=name, EventPattern=json.dumps({"detail": {"x": ["a" * 4100]}}))
    code, message = error(raised)
    assert code == "ValidationException" and "Member must have length less than or equal to 4096" in message
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name=name, EventBusName=unique("nobus"), EventPattern=PATTERN)
    assert error(raised)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        events.describe_rule(Name=name)
    assert error(raised) == ("ResourceNotFoundException", f"Rule {name} does not exist on EventBus default.")
    for operation in (events.enable_rule, events.disable_rule):
        with pytest.raises(ClientError) as raised:
            operation(Name=name)
        assert error(raised)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name="bad name", EventPattern=PATTERN)
    assert error(raised)[0] == "ValidationException"
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name=name, EventPattern=PATTERN, Tags=[{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}])
    assert error(raised)[0] == "ValidationException"


def test_scheduled_rule_is_described(events):
    name = unique("rule")
    events.put_rule(Name=name, ScheduleExpression="cron(0 12 * * ? *)", State="DISABLED")
    described = events.describe_rule(Name=name)
    assert described["ScheduleExpression"] == "cron(0 12 * * ? *)" and described["State"] == "DISABLED"
    assert "EventPattern" not in described
    both = unique("rule")
    events.put_rule(Name=both, ScheduleExpression="rate(1 hour)", EventPattern=PATTERN)
    described = events.describe_rule(Name=both)
    assert described["ScheduleExpression"] == "rate(1 hour)" and described["EventPattern"] == PATTERN


def test_list_rules_pages(events):
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    for index in range(6):
        events.put_rule(Name=f"r-{index}", EventBusName=bus, EventPattern=PATTERN)
    first = events.list_rules(EventBusName=bus, Limit=3)
    assert [r["Name"] for r in first["Rules"]] == ["r-0", "r-1", "r-2"]
    second = events.list_rules(EventBusName=bus, Limit=5, NextToken=first["NextToken"])
    assert [r["Name"] for r in second["Rules"]] == ["r-3", "r-4", "r-5"] and "NextToken" not in second
    with pytest.raises(ClientError) as raised:
        events.list_rules(EventBusName=unique("nobus"))
    assert error(raised)[0] == "ResourceNotFoundException"


# ------------------------------------------------------------ targets
def test_put_list_remove_targets(events):
    name = unique("rule")
    events.put_rule(Name=name, EventPattern=PATTERN)
    targets = [
        {"Id": "queue", "Arn": queue_arn("q1"), "RetryPolicy": {"MaximumRetryAttempts": 3,
                                                               "MaximumEventAgeInSeconds": 60},
         "DeadLetterConfig": {"Arn": queue_arn("dlq")}},
        {"Id": "fn", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f", "Input": '{"a": 1}'},
        {"Id": "logs", "Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/x", "InputPath": "$.detail"},
        {"Id": "fifo", "Arn": queue_arn("q.fifo"), "SqsParameters": {"MessageGroupId": "g"},
         "InputTransformer": {"InputPathsMap": {"s": "$.source"}, "InputTemplate": '"from <s>"'}},
    ]
    result = events.put_targets(Rule=name, Targets=targets)
    assert result["FailedEntryCount"] == 0 and result["FailedEntries"] == []
    listed = events.list_targets_by_rule(Rule=name)["Targets"]
    assert listed == targets
    # same id replaces, order is kept
    events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:g"}])
    listed = events.list_targets_by_rule(Rule=name)["Targets"]
    assert [t["Id"] for t in listed] == ["queue", "fn", "logs", "fifo"]
    assert listed[1] == {"Id": "fn", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:g"}
    page = events.list_targets_by_rule(Rule=name, Limit=3)
    assert len(page["Targets"]) == 3
    rest = events.list_targets_by_rule(Rule=name, Limit=3, NextToken=page["NextToken"])
    assert [t["Id"] for t in rest["Targets"]] == ["fifo"]
    assert events.list_rule_names_by_target(TargetArn=queue_arn("q1"))["RuleNames"].count(name) == 1
    with pytest.raises(ClientError) as raised:
        events.delete_rule(Name=name)
    assert error(raised) == ("ValidationException", "Rule can't be deleted since it has targets.")
    removed = events.remove_targets(Rule=name, Ids=["queue", "nope"])
    assert removed["FailedEntryCount"] == 1 and removed["FailedEntries"][0]["TargetId"] == "nope"
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=name)["Targets"]] == ["fn", "logs", "fifo"]
    assert name not in events.list_rule_names_by_target(TargetArn=queue_arn("q1"))["RuleNames"]
    events.remove_targets(Rule=name, Ids=["fn", "logs", "fifo"])
    events.delete_rule(Name=name)


def test_target_errors(events, server):
    raw = server.client("events", parameter_validation=False)  # let the server see what boto3 would refuse
    name = unique("rule")
    events.put_rule(Name=name, EventPattern=PATTERN)

    def put(target: dict) -> tuple[str, str]:
        with pytest.raises(ClientError) as raised:
            events.put_targets(Rule=name, Targets=[{"Id": "t1", **target}])
        return error(raised)

    assert put({"Arn": "not-an-arn"}) == (
        "ValidationException", "Parameter not-an-arn is not valid. Reason: Provided Arn is not in correct format.")
    assert put({"Arn": queue_arn("q"), "Input": "{}", "InputPath": "$"}) == (
        "ValidationException", "Only one of Input, InputPath, or InputTransformer must be provided for target t1.")
    assert put({"Arn": queue_arn("q"), "InputTransformer": {"InputPathsMap": {"a": "$.a"},
                                                             "InputTemplate": '"<a> <b>"'}}) == (
        "ValidationException", "InputTemplate for target t1 contains invalid placeholder b.")
    assert put({"Arn": queue_arn("q.fifo")}) == (
        "ValidationException", "Parameter(s) SqsParameters must be specified for target: t1.")
    events.put_targets(Rule=name, Targets=[{"Id": "t1", "Arn": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/s"}])
    events.remove_targets(Rule=name, Ids=["t1"])  # Kinesis streams are targets now that Kinesis is served
    code, message = put({"Arn": queue_arn("q"), "RetryPolicy": {"MaximumRetryAttempts": 186}})
    assert code == "ValidationException" and "Member must have value less than or equal to 185" in message
    with pytest.raises(ClientError) as raised:
        raw.put_targets(Rule=name, Targets=[{"Id": "t1", "Arn": queue_arn("q"),
                                             "RetryPolicy": {"MaximumEventAgeInSeconds": 59}}])
    code, message = error(raised)
    assert code == "ValidationException" and "greater than or equal to 60" in message
    code, _ = put({"Arn": queue_arn("q"), "DeadLetterConfig": {"Arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:t"}})
    assert code == "ValidationException"
    with pytest.raises(ClientError) as raised:
        events.put_targets(Rule=name, Targets=[{"Id": "bad id!", "Arn": queue_arn("q")}])
    assert error(raised) == ("ValidationException", "1 validation error detected: Value 'bad id!' at "
                             "'targets.1.member.id' failed to satisfy constraint: Member must satisfy regular "
                             "expression pattern: [\\.\\-_A-Za-z0-9]+")
    with pytest.raises(ClientError) as raised:
        events.put_targets(Rule=name, Targets=[{"Id": f"t{i}", "Arn": queue_arn("q")} for i in range(6)])
    assert error(raised) == ("LimitExceededException", "The requested resource exceeds the maximum number allowed.")
    assert events.list_targets_by_rule(Rule=name)["Targets"] == []  # nothing was changed
    with pytest.raises(ClientError) as raised:
        events.put_targets(Rule=unique("norule"), Targets=[{"Id": "t", "Arn": queue_arn("q")}])
    assert error(raised)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        events.list_targets_by_rule(Rule=unique("norule"))
    assert error(raised)[0] == "ResourceNotFoundException"


# ------------------------------------------------------------ tags
def test_tags_on_rules_and_buses(events):
    name = unique("rule")
    arn = events.put_rule(Name=name, EventPattern=PATTERN, Tags=[{"Key": "a", "Value": "1"}])["RuleArn"]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "a", "Value": "3"},
                                                                      {"Key": "b", "Value": "2"}]
    events.untag_resource(ResourceARN=arn, TagKeys=["a", "zzz"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    events.put_rule(Name=name, EventPattern=PATTERN)  # updating a rule keeps its tags
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    default_arn = events.describe_event_bus()["Arn"]
    events.tag_resource(ResourceARN=default_arn, Tags=[{"Key": "env", "Value": "test"}])
    assert {"Key": "env", "Value": "test"} in events.list_tags_for_resource(ResourceARN=default_arn)["Tags"]
    missing = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{unique('norule')}"
    with pytest.raises(ClientError) as raised:
        events.list_tags_for_resource(ResourceARN=missing)
    assert error(raised)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        events.tag_resource(ResourceARN=arn, Tags=[{"Key": "x", "Value": "1"}, {"Key": "x", "Value": "2"}])
    assert error(raised)[0] == "ValidationException"


# ------------------------------------------------------------ TestEventPattern (beyond the conformance cases)
def test_test_event_pattern_needs_a_complete_event(events):
    event = {"id": "1", "account": ACCOUNT, "source": "my.app", "time": "2024-01-01T00:00:00Z", "region": REGION,
             "detail-type": "Order Placed", "resources": [], "detail": {}}
    assert events.test_event_pattern(EventPattern=PATTERN, Event=json.dumps(event))["Result"] is True
    for field in ("id", "account", "source", "time", "region", "detail-type"):
        with pytest.raises(ClientError) as raised:
            events.test_event_pattern(EventPattern=PATTERN, Event=json.dumps({k: v for k, v in event.items()
                                                                              if k != field}))
        assert error(raised) == ("ValidationException", "Parameter Event is not valid.")
    with pytest.raises(ClientError) as raised:
        events.test_event_pattern(EventPattern=PATTERN, Event="not json")
    assert error(raised) == ("ValidationException", "Parameter Event is not valid.")


def test_unimplemented_operations_say_so(events):
    with pytest.raises(ClientError) as raised:
        events.list_endpoints()
    assert error(raised)[0] == "NotImplementedException"
