"""History events have exactly the shape of botocore's stepfunctions HistoryEvent."""

import asyncio
import datetime

import botocore.session
import pytest

from cumulo.asl import TaskFailure
from tests.unit.asl.conftest import chain, execution, lambda_arn

MODEL = botocore.session.get_session().get_service_model("stepfunctions")
HISTORY_EVENT = MODEL.shape_for("HistoryEvent")
PYTHON_TYPES = {
    "string": str,
    "long": int,
    "integer": int,
    "boolean": bool,
    "timestamp": datetime.datetime,
    "structure": dict,
    "map": dict,
}


def check_shape(value, shape, where):
    assert isinstance(value, PYTHON_TYPES[shape.type_name]), f"{where}: {value!r} is not a {shape.type_name}"
    if shape.type_name == "structure":
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{where}: members {unknown} are not in {shape.name}"
        missing = set(shape.required_members) - set(value)
        assert not missing, f"{where}: required {missing} missing"
        for key, item in value.items():
            check_shape(item, shape.members[key], f"{where}.{key}")
    if shape.type_name == "map":
        for key, item in value.items():
            check_shape(item, shape.value, f"{where}[{key}]")
    if shape.type_name == "string" and getattr(shape, "enum", None):
        assert value in shape.enum, f"{where}: {value} not in enum"


def run_and_collect(definition, data=None, functions=None):
    ex = execution(definition, data or {}, functions=functions)
    result = asyncio.run(ex.run())
    return result, [e.to_api() for e in ex.sink.events()]


KITCHEN_SINK = {
    "StartAt": "P",
    "States": {
        "P": {"Type": "Pass", "Assign": {"v": 1}, "Next": "C"},
        "C": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "W"}],
            "Default": "W",
        },
        "W": {"Type": "Wait", "Seconds": 0, "Next": "T"},
        "T": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f"},
            "TimeoutSeconds": 30,
            "ResultPath": "$.t",
            "Next": "L",
        },
        "L": {
            "Type": "Task",
            "Resource": lambda_arn("legacy"),
            "ResultPath": "$.l",
            "Next": "Par",
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Par"}],
        },
        "Par": {
            "Type": "Parallel",
            "ResultPath": None,
            "Next": "M",
            "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}],
        },
        "M": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ResultPath": "$.m",
            "Next": "S",
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
        },
        "S": {"Type": "Succeed"},
    },
}


def legacy_fails(_):
    raise TaskFailure("Handled", "legacy lambda error")


@pytest.fixture(scope="module")
def kitchen_sink():
    return run_and_collect(
        KITCHEN_SINK,
        {"go": True, "items": [1, 2]},
        {"arn:aws:states:::lambda:invoke": lambda p: {"Payload": 1}, lambda_arn("legacy"): legacy_fails},
    )


def test_every_event_matches_the_botocore_shape(kitchen_sink):
    result, events = kitchen_sink
    assert result.status == "SUCCEEDED"
    for event in events:
        check_shape(event, HISTORY_EVENT, event["type"])


def test_event_sequence_ids_and_links(kitchen_sink):
    _, events = kitchen_sink
    types = [e["type"] for e in events]
    assert types == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "WaitStateEntered",
        "WaitStateExited",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionFailed",
        "TaskStateExited",
        "ParallelStateEntered",
        "ParallelStateStarted",
        "PassStateEntered",
        "PassStateExited",
        "ParallelStateSucceeded",
        "ParallelStateExited",
        "MapStateEntered",
        "MapStateStarted",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
    ]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["previousEventId"] == 0
    assert all(0 <= e["previousEventId"] < e["id"] for e in events)


def test_event_details(kitchen_sink):
    _, events = kitchen_sink
    by_type = {}
    for e in events:
        by_type.setdefault(e["type"], e)
    assert by_type["ExecutionStarted"]["executionStartedEventDetails"]["input"] == '{"go":true,"items":[1,2]}'
    assert by_type["PassStateExited"]["stateExitedEventDetails"]["assignedVariables"] == {"v": "1"}
    scheduled = by_type["TaskScheduled"]["taskScheduledEventDetails"]
    assert scheduled == {
        "resourceType": "lambda",
        "resource": "invoke",
        "region": "us-east-1",
        "parameters": '{"FunctionName":"f"}',
        "timeoutInSeconds": 30,
    }
    assert by_type["TaskSucceeded"]["taskSucceededEventDetails"]["output"] == '{"Payload":1}'
    assert by_type["LambdaFunctionFailed"]["lambdaFunctionFailedEventDetails"] == {
        "error": "Handled",
        "cause": "legacy lambda error",
    }
    assert by_type["MapStateStarted"]["mapStateStartedEventDetails"] == {"length": 2}
    assert by_type["MapIterationStarted"]["mapIterationStartedEventDetails"] == {"name": "M", "index": 0}


def test_failed_execution_events():
    result, events = run_and_collect(chain(("F", {"Type": "Fail", "Error": "E", "Cause": "C"})))
    assert result.status == "FAILED"
    assert [e["type"] for e in events] == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]
    assert events[-1]["executionFailedEventDetails"] == {"error": "E", "cause": "C"}
    for event in events:
        check_shape(event, HISTORY_EVENT, event["type"])
