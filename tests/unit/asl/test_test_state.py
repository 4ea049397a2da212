import asyncio
import json

from cumulo.asl.test_state import MockInvoker, run_test_state

TASK = {
    "Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke",
    "InputPath": "$.in",
    "Parameters": {"FunctionName": "f", "Payload.$": "$"},
    "ResultSelector": {"value.$": "$.Payload"},
    "ResultPath": "$.out",
    "OutputPath": "$.out",
    "Next": "Done",
    "Retry": [{"ErrorEquals": ["Retryable"], "IntervalSeconds": 4, "BackoffRate": 2, "MaxAttempts": 2}],
    "Catch": [{"ErrorEquals": ["Fatal"], "Next": "Handler"}],
}


def try_state(definition, data, invoker=None, **kwargs):
    """Call the TestState API the way the service will."""
    return asyncio.run(run_test_state(json.dumps(definition), data, invoker, **kwargs))


def test_succeeded_with_inspection_data():
    response = try_state(TASK, {"in": {"x": 1}}, MockInvoker({"Payload": 42}), inspection_level="DEBUG")
    assert response["status"] == "SUCCEEDED" and response["nextState"] == "Done"
    assert json.loads(response["output"]) == {"value": 42}
    data = {k: json.loads(v) if isinstance(v, str) else v for k, v in response["inspectionData"].items()}
    assert data == {
        "input": {"in": {"x": 1}},
        "afterInputPath": {"x": 1},
        "afterParameters": {"FunctionName": "f", "Payload": {"x": 1}},
        "result": {"Payload": 42},
        "afterResultSelector": {"value": 42},
        "afterResultPath": {"in": {"x": 1}, "out": {"value": 42}},
    }


def test_info_level_has_no_inspection_data():
    assert "inspectionData" not in try_state(TASK, {"in": {}}, MockInvoker({"Payload": 1}))


def test_retriable_reports_the_backoff_instead_of_waiting():
    response = try_state(
        TASK,
        {"in": {}},
        MockInvoker(error="Retryable", cause="try again"),
        inspection_level="DEBUG",
        retrier_retry_count=1,
    )
    assert response["status"] == "RETRIABLE" and response["error"] == "Retryable"
    assert response["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 8}
    exhausted = try_state(TASK, {"in": {}}, MockInvoker(error="Retryable"), retrier_retry_count=2)
    assert exhausted["status"] == "FAILED"


def test_caught_error_goes_to_the_catcher():
    response = try_state(TASK, {"in": {}}, MockInvoker(error="Fatal", cause="boom"))
    assert response["status"] == "CAUGHT_ERROR" and response["nextState"] == "Handler"
    assert json.loads(response["output"]) == {"Error": "Fatal", "Cause": "boom"}


def test_choice_wait_pass_and_machine_with_state_name():
    choice = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}],
        "Default": "Small",
    }
    assert try_state(choice, {"n": 2})["nextState"] == "Big"
    assert try_state({"Type": "Wait", "Seconds": 86400, "Next": "X"}, {"a": 1})["output"] == '{"a":1}'
    machine = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Result": {"r": 1}, "End": True},
        },
    }
    response = try_state(machine, {}, state_name="B")
    assert response["output"] == '{"r":1}' and "nextState" not in response
    failed = try_state({"Type": "Fail", "Error": "E", "Cause": "C"}, {})
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "E", "C")


def test_variables_and_jsonata():
    state = {
        "Type": "Pass",
        "QueryLanguage": "JSONata",
        "Output": "{% $x * 2 %}",
        "Assign": {"y": 1},
        "End": True,
    }
    response = try_state(state, {}, variables={"x": 21}, inspection_level="DEBUG")
    assert response["output"] == "42"
    assert json.loads(response["inspectionData"]["variables"]) == {"x": 21, "y": 1}
