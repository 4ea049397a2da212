"""Examples from the Amazon States Language specification (states-language.net) and AWS's guide."""

import json

from cumulo.asl import validate
from tests.unit.asl.conftest import lambda_arn, run

HELLO_WORLD = {
    "Comment": "A simple minimal example of the States language",
    "StartAt": "Hello World",
    "States": {
        "Hello World": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:HelloWorld",
            "End": True,
        }
    },
}


def test_hello_world():
    result = run(
        HELLO_WORLD, {}, functions={HELLO_WORLD["States"]["Hello World"]["Resource"]: lambda p: "Hello"}
    )
    assert result.output == "Hello"


def test_pass_state_example():
    definition = {
        "StartAt": "No-op",
        "States": {
            "No-op": {
                "Type": "Pass",
                "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
                "ResultPath": "$.coords",
                "End": True,
            }
        },
    }
    assert run(definition, {"georefOf": "Home"}).output == {
        "georefOf": "Home",
        "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
    }


def test_input_output_processing_example():
    # spec "Filters": InputPath $.lambda, ResultPath $.data.lambdaresult, OutputPath $.data
    fn = lambda_arn("Add")
    definition = {
        "StartAt": "Add",
        "States": {
            "Add": {
                "Type": "Task",
                "Resource": fn,
                "InputPath": "$.lambda",
                "ResultPath": "$.data.lambdaresult",
                "OutputPath": "$.data",
                "End": True,
            }
        },
    }
    data = {
        "comment": "An input comment.",
        "data": {"val1": 23, "val2": 17},
        "extra": "foo",
        "lambda": {"who": "AWS Step Functions"},
    }
    out = run(definition, data, functions={fn: lambda p: f"Hello, {p['who']}!"}).output
    assert out == {"val1": 23, "val2": 17, "lambdaresult": "Hello, AWS Step Functions!"}


def test_parameters_example():
    fn = lambda_arn("X")
    seen = {}
    definition = {
        "StartAt": "X",
        "States": {
            "X": {
                "Type": "Task",
                "Resource": fn,
                "End": True,
                "Parameters": {
                    "flagged": True,
                    "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"},
                    "weekday.$": "$$.DayOfWeek",
                    "formattedOutput.$": "States.Format('Today is {}', $$.DayOfWeek)",
                },
            }
        },
    }
    machine_input = {"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]}
    result = run(definition, machine_input, functions={fn: seen.update})
    # $$.DayOfWeek is not in the context object: the spec example names it only as an illustration
    assert result.error == "States.Runtime"
    definition["States"]["X"]["Parameters"] = {
        "flagged": True,
        "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"},
    }
    run(definition, machine_input, functions={fn: lambda p: seen.update(p)})
    assert seen == {"flagged": True, "parts": {"first": 0, "last3": [30, 40, 50]}}


def test_choice_state_example():
    definition = {
        "StartAt": "ChoiceStateX",
        "States": {
            "ChoiceStateX": {
                "Type": "Choice",
                "Default": "DefaultState",
                "Choices": [
                    {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
                    {
                        "And": [
                            {"Variable": "$.value", "IsPresent": True},
                            {"Variable": "$.value", "IsNumeric": True},
                            {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                            {"Variable": "$.value", "NumericLessThan": 30},
                        ],
                        "Next": "ValueInTwenties",
                    },
                ],
            },
            "Public": {"Type": "Pass", "Result": "Public", "End": True},
            "ValueInTwenties": {"Type": "Pass", "Result": "ValueInTwenties", "End": True},
            "DefaultState": {"Type": "Fail", "Error": "DefaultStateError", "Cause": "No Matches!"},
        },
    }
    assert run(definition, {"type": "Public"}).output == "Public"
    assert run(definition, {"type": "Private", "value": 25}).output == "ValueInTwenties"
    failed = run(definition, {"type": "Private", "value": 35})
    assert (failed.error, failed.cause) == ("DefaultStateError", "No Matches!")


def test_wait_state_examples_validate():
    for wait in (
        {"Seconds": 10},
        {"Timestamp": "2016-03-14T01:59:00Z"},
        {"TimestampPath": "$.expirydate"},
        {"SecondsPath": "$.expiryseconds"},
    ):
        validate(json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "End": True, **wait}}}))


def test_parallel_example():
    lookup, search = lambda_arn("AddressFinder"), lambda_arn("PhoneFinder")
    definition = {
        "StartAt": "LookupCustomerInfo",
        "States": {
            "LookupCustomerInfo": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {
                        "StartAt": "LookupAddress",
                        "States": {"LookupAddress": {"Type": "Task", "Resource": lookup, "End": True}},
                    },
                    {
                        "StartAt": "LookupPhone",
                        "States": {"LookupPhone": {"Type": "Task", "Resource": search, "End": True}},
                    },
                ],
            }
        },
    }
    out = run(
        definition, {"name": "x"}, functions={lookup: lambda p: "addr", search: lambda p: "phone"}
    ).output
    assert out == ["addr", "phone"]


def test_map_example_from_the_spec():
    ship = lambda_arn("ship-val")
    definition = {
        "StartAt": "Validate-All",
        "States": {
            "Validate-All": {
                "Type": "Map",
                "InputPath": "$.detail",
                "ItemsPath": "$.shipped",
                "MaxConcurrency": 0,
                "ItemProcessor": {
                    "StartAt": "Validate",
                    "States": {"Validate": {"Type": "Task", "Resource": ship, "End": True}},
                },
                "ResultPath": "$.detail.shipped",
                "End": True,
            }
        },
    }
    data = {
        "ship-date": "2016-03-14T01:59:00Z",
        "detail": {
            "delivery-partner": "UQS",
            "shipped": [
                {"prod": "R31", "dest-code": 9511, "quantity": 1344},
                {"prod": "S39", "dest-code": 9511, "quantity": 40},
            ],
        },
    }
    out = run(definition, data, functions={ship: lambda p: {**p, "valid": True}}).output
    assert [item["valid"] for item in out["detail"]["shipped"]] == [True, True]
    assert out["ship-date"] == "2016-03-14T01:59:00Z"


def test_retry_catch_example_validates():
    validate(
        json.dumps(
            {
                "StartAt": "X",
                "States": {
                    "X": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:us-east-1:123456789012:activity:x",
                        "Next": "Y",
                        "Retry": [
                            {
                                "ErrorEquals": ["ErrorA", "ErrorB"],
                                "IntervalSeconds": 1,
                                "BackoffRate": 2,
                                "MaxAttempts": 2,
                            },
                            {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5},
                        ],
                        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}],
                    },
                    "Y": {"Type": "Pass", "End": True},
                    "Z": {"Type": "Pass", "End": True},
                },
            }
        )
    )
