import asyncio
import hashlib

from cumulo.asl import TaskFailure
from tests.unit.asl.conftest import EXEC_ARN, chain, execution, lambda_arn, run

FN = lambda_arn("fn")


def jsonata(*states, **top):
    return {"QueryLanguage": "JSONata", **chain(*states, **top)}


def test_arguments_output_and_states_variable():
    seen = {}

    def fn(params):
        seen.update(params)
        return {"total": params["sum"]}

    definition = jsonata(
        (
            "T",
            {
                "Type": "Task",
                "Resource": FN,
                "Arguments": {
                    "sum": "{% $states.input.a + $states.input.b %}",
                    "static": [1, 2],
                    "exec": "{% $states.context.Execution.Id %}",
                },
                "Output": {"result": "{% $states.result.total %}", "input": "{% $states.input %}"},
            },
        )
    )
    out = run(definition, {"a": 1, "b": 2}, functions={FN: fn}).output
    assert seen == {"sum": 3, "static": [1, 2], "exec": EXEC_ARN}
    assert out == {"result": 3, "input": {"a": 1, "b": 2}}


def test_default_outputs():
    assert run(jsonata(("P", {"Type": "Pass"})), {"a": 1}).output == {"a": 1}
    assert (
        run(jsonata(("T", {"Type": "Task", "Resource": FN})), {"a": 1}, functions={FN: lambda p: 7}).output
        == 7
    )
    assert (
        run(jsonata(("P", {"Type": "Pass", "Output": "{% $states.input.a * 10 %}"})), {"a": 1}).output == 10
    )


def test_assign_sees_values_from_state_entry_and_applies_after():
    definition = jsonata(
        ("Init", {"Type": "Pass", "Assign": {"x": 1, "y": "{% 'static' %}"}}),
        (
            "Bump",
            {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}", "old": "{% $x %}"}, "Output": {"x": "{% $x %}"}},
        ),
        (
            "Read",
            {
                "Type": "Pass",
                "Output": {
                    "x": "{% $x %}",
                    "old": "{% $old %}",
                    "y": "{% $y %}",
                    "prev": "{% $states.input %}",
                },
            },
        ),
    )
    assert run(definition, {}).output == {"x": 2, "old": 1, "y": "static", "prev": {"x": 1}}


def test_choice_condition_output_and_default():
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Default": "Low",
                "Output": {"from": "default"},
                "Choices": [
                    {
                        "Condition": "{% $states.input.n > 10 %}",
                        "Next": "High",
                        "Output": {"from": "rule"},
                        "Assign": {"picked": "high"},
                    }
                ],
            },
            "High": {
                "Type": "Pass",
                "Output": {"in": "{% $states.input %}", "picked": "{% $picked %}"},
                "End": True,
            },
            "Low": {"Type": "Pass", "End": True},
        },
    }
    assert run(definition, {"n": 11}).output == {"in": {"from": "rule"}, "picked": "high"}
    assert run(definition, {"n": 1}).output == {"from": "default"}


def test_non_boolean_condition_and_undefined_results_are_query_evaluation_errors():
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "D"}]},
            "D": {"Type": "Succeed"},
        },
    }
    assert run(definition, {"n": 3}).error == "States.QueryEvaluationError"
    result = run(jsonata(("E", {"Type": "Pass", "Output": {"v": "{% $states.input.missing %}"}})), {})
    assert result.error == "States.QueryEvaluationError"
    assert result.cause == (
        "An error occurred while executing the state 'E' (entered at the event id #2). "
        "The JSONata expression '$states.input.missing' specified for the field 'Output/v' "
        "returned nothing (undefined)."
    )
    result = run(jsonata(("E", {"Type": "Pass", "Output": "{% $number('x') + $undefinedFn() %}"})), {})
    assert result.error == "States.QueryEvaluationError"


def test_query_evaluation_error_can_be_caught():
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": FN,
                "Arguments": "{% $states.input.nope %}",
                "End": True,
                "Catch": [
                    {
                        "ErrorEquals": ["States.QueryEvaluationError"],
                        "Next": "H",
                        "Output": {"err": "{% $states.errorOutput.Error %}"},
                        "Assign": {"failed": True},
                    }
                ],
            },
            "H": {
                "Type": "Pass",
                "Output": {"err": "{% $states.input.err %}", "failed": "{% $failed %}"},
                "End": True,
            },
        },
    }
    assert run(definition, {}, functions={FN: lambda p: p}).output == {
        "err": "States.QueryEvaluationError",
        "failed": True,
    }


def test_catch_default_output_is_the_error_output():
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": FN,
                "End": True,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}],
            },
            "H": {"Type": "Pass", "End": True},
        },
    }

    def boom(_):
        raise TaskFailure("Oops", "bad")

    assert run(definition, functions={FN: boom}).output == {"Error": "Oops", "Cause": "bad"}


def test_wait_fail_and_map_fields_as_expressions(clock):
    async def scenario():
        ex = execution(
            jsonata(("W", {"Type": "Wait", "Seconds": "{% $states.input.s * 2 %}"})), {"s": 5}, clock=clock
        )
        task = asyncio.ensure_future(ex.run())
        deadlines = await clock.wait_for_sleepers()
        clock.advance_to(deadlines[0])
        await task
        return deadlines[0] - 1_700_000_000.0

    assert asyncio.run(scenario()) == 10
    fail = run(
        {
            "QueryLanguage": "JSONata",
            "StartAt": "F",
            "States": {
                "F": {
                    "Type": "Fail",
                    "Error": "{% 'Err' & $states.input.code %}",
                    "Cause": "{% $string($states.input) %}",
                }
            },
        },
        {"code": 42},
    )
    assert (fail.error, fail.cause) == ("Err42", '{"code":42}')
    mapped = run(
        jsonata(
            (
                "M",
                {
                    "Type": "Map",
                    "Items": "{% $states.input.list %}",
                    "MaxConcurrency": "{% 1 %}",
                    "ItemSelector": {
                        "v": "{% $states.context.Map.Item.Value %}",
                        "i": "{% $states.context.Map.Item.Index %}",
                    },
                    "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                    "Output": "{% $states.result.v %}",
                },
            )
        ),
        {"list": ["a", "b"]},
    )
    assert mapped.output == ["a", "b"]


def test_step_functions_extra_functions():
    out = run(
        jsonata(
            (
                "P",
                {
                    "Type": "Pass",
                    "Output": {
                        "partition": "{% $partition([1,2,3,4,5], 2) %}",
                        "range": "{% $range(0, 10, 5) %}",
                        "hash": "{% $hash('input data', 'SHA-256') %}",
                        "parsed": "{% $parse('{\"a\": [1]}') %}",
                        "uuid": "{% $length($uuid()) %}",
                        "random": "{% $random() < 1 %}",
                    },
                },
            )
        ),
        {},
    ).output
    assert out["partition"] == [[1, 2], [3, 4], [5]] and out["range"] == [0, 5, 10]
    assert out["hash"] == hashlib.sha256(b"input data").hexdigest()
    assert out["parsed"] == {"a": [1]} and out["uuid"] == 36 and out["random"] is True


def test_mixed_query_languages_share_variables():
    definition = chain(
        ("Set", {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"n": "{% 41 + 1 %}"}}),
        ("Get", {"Type": "Pass", "Parameters": {"n.$": "$n", "sum.$": "States.MathAdd($n, 1)"}}),
    )
    assert run(definition).output == {"n": 42, "sum": 43}


def test_parallel_arguments_and_result():
    definition = jsonata(
        (
            "P",
            {
                "Type": "Parallel",
                "Arguments": {"x": "{% $states.input.x %}"},
                "Output": "{% $sum($states.result) %}",
                "Branches": [
                    {
                        "StartAt": "A",
                        "States": {"A": {"Type": "Pass", "Output": "{% $states.input.x %}", "End": True}},
                    },
                    {
                        "StartAt": "B",
                        "States": {"B": {"Type": "Pass", "Output": "{% $states.input.x * 2 %}", "End": True}},
                    },
                ],
            },
        )
    )
    assert run(definition, {"x": 5}).output == 15
