"""CloudWatch Logs through boto3: groups, streams, events, filter patterns, retention, tags."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError


def unique(prefix: str = "/test/group") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def group(logs_client) -> str:
    name = unique()
    logs_client.create_log_group(logGroupName=name)
    return name


def put(logs_client, group: str, stream: str, messages: list[str], start: int | None = None) -> int:
    start = start or now_ms()
    try:
        logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs_client.exceptions.ResourceAlreadyExistsException:
        pass
    logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": start + i, "message": m} for i, m in enumerate(messages)])
    return start


def test_groups_create_describe_delete(logs_client):
    name = unique()
    logs_client.create_log_group(logGroupName=name, tags={"app": "x"})
    described = logs_client.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert [g["logGroupName"] for g in described] == [name]
    assert described[0]["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{name}:*"
    assert described[0]["logGroupArn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{name}"
    with pytest.raises(ClientError) as exists:
        logs_client.create_log_group(logGroupName=name)
    assert code(exists) == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as invalid:
        logs_client.create_log_group(logGroupName="bad name!")
    assert code(invalid) == "InvalidParameterException"
    logs_client.delete_log_group(logGroupName=name)
    assert logs_client.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    with pytest.raises(ClientError) as missing:
        logs_client.delete_log_group(logGroupName=name)
    assert code(missing) == "ResourceNotFoundException"


def test_describe_log_groups_paginates(logs_client):
    prefix = unique("/paged")
    for i in range(5):
        logs_client.create_log_group(logGroupName=f"{prefix}/{i}")
    pages = list(logs_client.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=prefix, PaginationConfig={"PageSize": 2}))
    assert [len(p["logGroups"]) for p in pages] == [2, 2, 1]
    assert [g["logGroupName"] for p in pages for g in p["logGroups"]] == [f"{prefix}/{i}" for i in range(5)]


def test_streams_and_events_round_trip_in_order(logs_client, group):
    start = put(logs_client, group, "s1", ["one", "two", "three"])
    streams = logs_client.describe_log_streams(logGroupName=group)["logStreams"]
    assert streams[0]["logStreamName"] == "s1"
    assert streams[0]["firstEventTimestamp"] == start
    assert streams[0]["lastEventTimestamp"] == start + 2
    head = logs_client.get_log_events(logGroupName=group, logStreamName="s1", startFromHead=True)
    assert [e["message"] for e in head["events"]] == ["one", "two", "three"]
    first_page = logs_client.get_log_events(logGroupName=group, logStreamName="s1", startFromHead=True, limit=2)
    assert [e["message"] for e in first_page["events"]] == ["one", "two"]
    second_page = logs_client.get_log_events(logGroupName=group, logStreamName="s1",
                                             nextToken=first_page["nextForwardToken"], limit=2)
    assert [e["message"] for e in second_page["events"]] == ["three"]
    end = logs_client.get_log_events(logGroupName=group, logStreamName="s1",
                                     nextToken=second_page["nextForwardToken"])
    assert end["events"] == []
    assert end["nextForwardToken"] == second_page["nextForwardToken"]  # same token: the end, as AWS
    tail = logs_client.get_log_events(logGroupName=group, logStreamName="s1", limit=1)
    assert [e["message"] for e in tail["events"]] == ["three"]
    window = logs_client.get_log_events(logGroupName=group, logStreamName="s1", startTime=start + 1,
                                        endTime=start + 2, startFromHead=True)
    assert [e["message"] for e in window["events"]] == ["two"]


def test_put_log_events_errors(logs_client, group):
    with pytest.raises(ClientError) as no_stream:
        logs_client.put_log_events(logGroupName=group, logStreamName="missing",
                                   logEvents=[{"timestamp": now_ms(), "message": "x"}])
    assert code(no_stream) == "ResourceNotFoundException"
    logs_client.create_log_stream(logGroupName=group, logStreamName="s")
    with pytest.raises(ClientError) as unordered:
        logs_client.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
            {"timestamp": now_ms(), "message": "b"}, {"timestamp": now_ms() - 1000, "message": "a"}])
    assert code(unordered) == "InvalidParameterException"
    old = now_ms() - 15 * 24 * 3600 * 1000
    result = logs_client.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": old, "message": "too old"}])
    assert result["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}
    assert logs_client.get_log_events(logGroupName=group, logStreamName="s")["events"] == []


@pytest.mark.parametrize(("pattern", "expected"), [
    ("", ["ERROR disk full", "WARN low memory", '{"level": "ERROR", "latency": 120}',
          '{"level": "INFO", "latency": 3}', "user login ok"]),
    ("ERROR", ["ERROR disk full", '{"level": "ERROR", "latency": 120}']),
    ("ERROR disk", ["ERROR disk full"]),
    ('"low memory"', ["WARN low memory"]),
    ("?WARN ?login", ["WARN low memory", "user login ok"]),
    ("user -ERROR", ["user login ok"]),
    ('{ $.level = "ERROR" }', ['{"level": "ERROR", "latency": 120}']),
    ("{ $.latency > 100 }", ['{"level": "ERROR", "latency": 120}']),
    ('{ $.level = "I*" || $.latency >= 120 }', ['{"level": "ERROR", "latency": 120}',
                                                '{"level": "INFO", "latency": 3}']),
    ("{ $.missing NOT EXISTS && $.latency < 10 }", ['{"level": "INFO", "latency": 3}']),
])
def test_filter_log_events_patterns(logs_client, group, pattern, expected):
    put(logs_client, group, "a", ["ERROR disk full", "WARN low memory"])
    put(logs_client, group, "b", ['{"level": "ERROR", "latency": 120}', '{"level": "INFO", "latency": 3}',
                                  "user login ok"], start=now_ms() + 10)
    events = logs_client.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
    assert [e["message"] for e in events] == expected


def test_filter_log_events_interleaves_streams_by_time_and_paginates(logs_client, group):
    start = now_ms()
    logs_client.create_log_stream(logGroupName=group, logStreamName="x")
    logs_client.create_log_stream(logGroupName=group, logStreamName="y")
    logs_client.put_log_events(logGroupName=group, logStreamName="x", logEvents=[
        {"timestamp": start, "message": "x0"}, {"timestamp": start + 2, "message": "x2"}])
    logs_client.put_log_events(logGroupName=group, logStreamName="y", logEvents=[
        {"timestamp": start + 1, "message": "y1"}, {"timestamp": start + 3, "message": "y3"}])
    pages = list(logs_client.get_paginator("filter_log_events").paginate(
        logGroupName=group, PaginationConfig={"PageSize": 3}))
    assert [[e["message"] for e in p["events"]] for p in pages] == [["x0", "y1", "x2"], ["y3"]]
    only_y = logs_client.filter_log_events(logGroupName=group, logStreamNames=["y"], startTime=start + 2)
    assert [e["message"] for e in only_y["events"]] == ["y3"]
    assert len({e["eventId"] for p in pages for e in p["events"]}) == 4


def test_invalid_filter_pattern_is_rejected(logs_client, group):
    with pytest.raises(ClientError) as excinfo:
        logs_client.filter_log_events(logGroupName=group, filterPattern="{ $.a = ")
    assert code(excinfo) == "InvalidParameterException"


def test_retention_policy_and_tags(logs_client, group):
    logs_client.put_retention_policy(logGroupName=group, retentionInDays=7)
    described = logs_client.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert described["retentionInDays"] == 7
    with pytest.raises(ClientError) as invalid:
        logs_client.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert code(invalid) == "InvalidParameterException"
    logs_client.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs_client.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]

    arn = described["logGroupArn"]
    logs_client.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2"})
    logs_client.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert logs_client.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    assert logs_client.list_tags_log_group(logGroupName=group)["tags"] == {"b": "2"}


def test_describe_log_streams_ordering_and_errors(logs_client, group):
    put(logs_client, group, "late", ["x"], start=now_ms() + 100)
    put(logs_client, group, "early", ["x"], start=now_ms())
    by_time = logs_client.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)
    assert [s["logStreamName"] for s in by_time["logStreams"]] == ["late", "early"]
    with pytest.raises(ClientError) as invalid:
        logs_client.describe_log_streams(logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="l")
    assert code(invalid) == "InvalidParameterException"
    with pytest.raises(ClientError) as missing:
        logs_client.describe_log_streams(logGroupName=group + "-missing")
    assert code(missing) == "ResourceNotFoundException"


def test_json_messages_stay_exact(logs_client, group):
    message = json.dumps({"nested": {"list": [1, 2]}, "text": "tab\tand unicode é"})
    put(logs_client, group, "s", [message])
    events = logs_client.get_log_events(logGroupName=group, logStreamName="s")["events"]
    assert events[0]["message"] == message
