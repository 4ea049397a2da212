"""Pure pieces of the Step Functions service: ARNs and names, Task resource checks, the scaled
clock, the durable sink's commit protocol, CloudWatch Logs records and SDK error names."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from cumulo.asl import HistoryEvent, Memo
from cumulo.protocol.errors import AwsError
from cumulo.services.stepfunctions.calls import sdk_metadata, sdk_service_name
from cumulo.services.stepfunctions.clock import ScaledClock
from cumulo.services.stepfunctions.definitions import check_definition, diagnostics, resource_problem
from cumulo.services.stepfunctions.executions import token_site
from cumulo.services.stepfunctions.integrations import function_error, sync_output
from cumulo.services.stepfunctions.names import check_name, parse_arn
from cumulo.services.stepfunctions.repository import EXECUTIONS, RUNNING, Repository, by_start_key
from cumulo.services.stepfunctions.sinks import CloudWatchSink, DurableSink, load_log
from cumulo.store.sqlite import SqliteStore


def test_arns_and_their_errors():
    machine = parse_arn("arn:aws:states:us-east-1:123456789012:stateMachine:m:7", "stateMachine")
    assert (machine.name, machine.version, machine.alias) == ("m", 7, None)
    assert machine.machine_arn() == "arn:aws:states:us-east-1:123456789012:stateMachine:m"
    alias = parse_arn("arn:aws:states:us-east-1:123456789012:stateMachine:m:prod", "stateMachine")
    assert (alias.version, alias.alias) == (None, "prod")
    with pytest.raises(AwsError) as excinfo:
        parse_arn("not_a_valid_arn", "stateMachine")
    assert excinfo.value.message == "Invalid Arn: 'Invalid ARN prefix: not_a_valid_arn'"
    with pytest.raises(AwsError) as excinfo:
        parse_arn("arn:aws:states:us-east-1:123456789012:express:m:n:u", "execution")
    assert excinfo.value.message == "Invalid Arn: 'Resource type not valid in this context: express'"
    with pytest.raises(AwsError):
        parse_arn("arn:aws:states:us-east-1:123456789012:execution:m", "execution")


@pytest.mark.parametrize("name", ["with space", "a/b", "a:b", "q?", "tab\t", "x" * 81, ""])
def test_invalid_names(name):
    with pytest.raises(AwsError) as excinfo:
        check_name(name)
    assert excinfo.value.code == "InvalidName"


def test_valid_names():
    assert check_name("order-42_v1.0") == "order-42_v1.0"


@pytest.mark.parametrize(("resource", "express", "problem"), [
    ("arn:aws:lambda:us-east-1:123456789012:function:f", False, None),
    ("arn:aws:states:::lambda:invoke", False, None),
    ("arn:aws:states:::lambda:invoke.waitForTaskToken", False, None),
    ("arn:aws:states:::lambda:invoke.sync", False, "not recognized"),
    ("arn:aws:states:::states:startExecution.sync:2", False, None),
    ("arn:aws:states:::states:startExecution.sync:2", True, "does not support '.sync'"),
    ("arn:aws:states:::sqs:sendMessage.waitForTaskToken", True, "does not support '.waitForTaskToken'"),
    ("arn:aws:states:::aws-sdk:s3:getObject", False, None),
    ("arn:aws:states:::aws-sdk:s3:getObject.sync", False, "not recognized"),
    ("arn:aws:states:::dynamodb:putItem", False, None),
    ("arn:aws:states:::nosuch:thing", False, "not recognized"),
    ("arn:aws:states:us-east-1:123456789012:activity:a", True, "does not support Activity ARN"),
])
def test_resource_checks(resource, express, problem):
    found = resource_problem(resource, express)
    assert (found is None) if problem is None else (problem in found)


def test_nested_resources_are_checked_with_their_location():
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
            "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::bad:x", "End": True}}}}}}]}}}
    machine, problems = diagnostics(json.dumps(definition))
    assert machine is None
    assert problems[0][2] == "/States/P/Branches[0]/States/M/ItemProcessor/States/T/Resource"
    with pytest.raises(AwsError) as excinfo:
        check_definition(json.dumps(definition))
    assert excinfo.value.code == "InvalidDefinition"


def test_scaled_clock_runs_faster_and_sleeps_the_scaled_time():
    clock = ScaledClock(0.01, anchor=time.time() - 1)
    assert clock.now() > time.time() + 90  # one real second since the anchor = 100 workflow seconds
    start = time.perf_counter()
    asyncio.run(clock.sleep_until(clock.now() + 5))  # 5 workflow seconds = 50 ms
    assert 0.04 < time.perf_counter() - start < 4  # scaled: far less than 5 real seconds, even under load
    assert abs(ScaledClock().now() - time.time()) < 0.1


def test_token_site():
    from cumulo.asl.invoker import make_task_token
    assert token_site(make_task_token("arn:x", "/A#0@1", "n")) == "/A#0@1"
    assert token_site("garbage") is None


@pytest.fixture
def repo(tmp_path: Path):
    store = SqliteStore(tmp_path / "state.db")
    yield Repository(store)
    store.close()


def test_durable_sink_commits_at_flush_and_finishes_atomically(repo):
    key = "000:us-east-1:m:e"
    repo.store.put(EXECUTIONS, key, {"status": "RUNNING", "executionArn": "arn", "name": "e"})
    repo.store.put(RUNNING, "log1", {"kind": "standard", "key": key})
    sink = DurableSink(repo, "log1", key)
    sink.append(HistoryEvent(1, 0, 10.0, "ExecutionStarted", {"input": "{}"}, ":started"))
    sink.append(Memo("/A#0:n1", 42))
    assert load_log(repo, "log1") == ([], 1)  # nothing is visible before the barrier
    asyncio.run(sink.flush())
    records, next_chunk = load_log(repo, "log1")
    assert [r.key for r in records] == [":started", "/A#0:n1"] and next_chunk == 2
    sink.append(HistoryEvent(2, 1, 11.0, "ExecutionSucceeded", {"output": '{"ok":1}'}, ":end"))
    asyncio.run(sink.flush())
    record = repo.execution_by_key(key)
    assert (record["status"], record["output"], record["stopDate"]) == ("SUCCEEDED", '{"ok":1}', 11.0)
    assert repo.store.get(RUNNING, "log1") is None
    assert len(load_log(repo, "log1")[0]) == 3


def test_by_start_keys_list_newest_first():
    older = by_start_key("s:", "m", 1000.0, "a")
    newer = by_start_key("s:", "m", 2000.0, "b")
    assert newer < older
    assert Repository.execution_key_of_index(newer) == "s:m:b"


def test_cloudwatch_records_per_level():
    class Logs:
        def __init__(self):
            self.lines = []

        def append(self, account, region, group, stream, lines):
            self.lines += [json.loads(line) for _, line in lines]

    events = [HistoryEvent(1, 0, 1.5, "ExecutionStarted", {"input": "{}", "inputDetails": {"truncated": False},
                                                           "roleArn": "r"}, ":started"),
              HistoryEvent(2, 0, 1.6, "FailStateEntered", {"name": "F", "input": "{}"}, "/F#0:entered"),
              HistoryEvent(3, 2, 1.7, "ExecutionFailed", {"error": "E"}, ":end")]
    for level, include, expected in [("ALL", True, 3), ("ERROR", False, 2), ("FATAL", False, 1)]:
        logs = Logs()
        sink = CloudWatchSink(logs, "a", "r", "g", "s", level, include, "arn:exec")
        for event in events:
            sink.append(event)
        asyncio.run(sink.flush())
        assert len(logs.lines) == expected
        last = logs.lines[-1]
        assert last == {"id": "3", "type": "ExecutionFailed", "details": {"error": "E"}, "previous_event_id": "2",
                        "event_timestamp": "1700", "execution_arn": "arn:exec", "redrive_count": "0"}
        if not include:
            assert all("input" not in line["details"] for line in logs.lines)


def test_function_errors_and_sync_outputs():
    failure = function_error(b'{"errorType": "ValueError", "errorMessage": "x"}', compact_cause=True)
    assert (failure.error, failure.cause) == ("ValueError", '{"errorType":"ValueError","errorMessage":"x"}')
    failure = function_error(b'{"errorType": "ValueError", "errorMessage": "x"}', compact_cause=False)
    assert failure.cause == '{"errorType": "ValueError", "errorMessage": "x"}'
    assert function_error(b"oops", compact_cause=True).error == "Lambda.Unknown"
    record = {"executionArn": "e", "stateMachineArn": "m", "name": "n", "status": "SUCCEEDED", "input": '{"a":1}',
              "output": '{"b":2}', "startDate": 1.5, "stopDate": 2.5}
    assert sync_output(record, False)["Output"] == '{"b":2}'
    two = sync_output(record, True)
    assert (two["Input"], two["Output"], two["StartDate"], two["StopDate"]) == ({"a": 1}, {"b": 2}, 1500, 2500)


def test_sdk_names_and_metadata():
    class Catalog:
        def model(self, name):
            class M:
                metadata = {"serviceId": {"dynamodb": "DynamoDB", "sqs": "SQS", "logs": "CloudWatch Logs",
                                          "s3": "S3", "events": "EventBridge"}[name]}
            return M

    class Platform:
        catalog = Catalog()

    assert [sdk_service_name(Platform, s) for s in ("dynamodb", "sqs", "logs", "s3", "events")] == [
        "DynamoDb", "Sqs", "CloudWatchLogs", "S3", "EventBridge"]
    meta = sdk_metadata("rid", "application/json", 2)
    assert meta["SdkResponseMetadata"] == {"RequestId": "rid"}
    assert meta["SdkHttpMetadata"]["AllHttpHeaders"]["Content-Length"] == ["2"]
