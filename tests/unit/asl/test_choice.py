import pytest

from tests.unit.asl.conftest import run

RUNTIME = "States.Runtime"


def choice_machine(rule: dict, default: bool = True) -> dict:
    choice = {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}]}
    if default:
        choice["Default"] = "No"
    return {
        "StartAt": "C",
        "States": {
            "C": choice,
            "Yes": {"Type": "Pass", "Result": "yes", "End": True},
            "No": {"Type": "Pass", "Result": "no", "End": True},
        },
    }


def decide(rule: dict, data) -> str:
    result = run(choice_machine(rule), data)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    return result.output


TS = "2016-03-14T01:59:00Z"


@pytest.mark.parametrize(
    ("op", "operand", "value", "expected"),
    [
        ("StringEquals", "abc", "abc", "yes"),
        ("StringEquals", "abc", "abd", "no"),
        ("StringLessThan", "b", "a", "yes"),
        ("StringGreaterThan", "b", "a", "no"),
        ("StringLessThanEquals", "a", "a", "yes"),
        ("StringGreaterThanEquals", "a", "b", "yes"),
        ("NumericEquals", 5, 5.0, "yes"),
        ("NumericLessThan", 5, 4, "yes"),
        ("NumericGreaterThan", 5, 4, "no"),
        ("NumericLessThanEquals", 5, 5, "yes"),
        ("NumericGreaterThanEquals", 5, 4, "no"),
        ("BooleanEquals", True, True, "yes"),
        ("BooleanEquals", False, True, "no"),
        ("TimestampEquals", TS, "2016-03-14T01:59:00.000Z", "yes"),
        ("TimestampEquals", TS, "2016-03-14T02:59:00+01:00", "yes"),
        ("TimestampLessThan", TS, "2016-03-14T01:58:59Z", "yes"),
        ("TimestampGreaterThan", TS, "2016-03-14T01:58:59Z", "no"),
        ("TimestampLessThanEquals", TS, TS, "yes"),
        ("TimestampGreaterThanEquals", TS, "2017-01-01T00:00:00Z", "yes"),
        # a type mismatch is a non-match, not an error
        ("NumericEquals", 5, "5", "no"),
        ("StringEquals", "5", 5, "no"),
        ("BooleanEquals", True, 1, "no"),
        ("TimestampEquals", TS, "2016-03-14t01:59:00z", "no"),
        ("NumericEquals", 1, True, "no"),
    ],
)
def test_comparison_operators(op, operand, value, expected):
    assert decide({"Variable": "$.v", op: operand}, {"v": value}) == expected


@pytest.mark.parametrize(
    ("op", "value", "other", "expected"),
    [
        ("StringEqualsPath", "a", "a", "yes"),
        ("NumericLessThanPath", 1, 2, "yes"),
        ("NumericGreaterThanEqualsPath", 1, 2, "no"),
        ("BooleanEqualsPath", False, False, "yes"),
        ("TimestampLessThanPath", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", "yes"),
        ("StringGreaterThanPath", "b", "a", "yes"),
    ],
)
def test_path_operators_compare_two_values_of_the_input(op, value, other, expected):
    assert decide({"Variable": "$.v", op: "$.other"}, {"v": value, "other": other}) == expected


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("log-*.txt", "log-2024.txt", "yes"),
        ("log-*.txt", "log-.txt", "yes"),
        ("log-*.txt", "log.txt", "no"),
        ("*", "", "yes"),
        ("a*b*c", "aXXbYYc", "yes"),
        (r"literal\*star", "literal*star", "yes"),
        (r"literal\*star", "literalXstar", "no"),
        (r"back\\slash", "back\\slash", "yes"),
    ],
)
def test_string_matches(pattern, value, expected):
    assert decide({"Variable": "$.v", "StringMatches": pattern}, {"v": value}) == expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("IsNull", None, "yes"),
        ("IsNull", 0, "no"),
        ("IsNumeric", 1.5, "yes"),
        ("IsNumeric", True, "no"),
        ("IsString", "s", "yes"),
        ("IsBoolean", False, "yes"),
        ("IsBoolean", "true", "no"),
        ("IsTimestamp", TS, "yes"),
        ("IsTimestamp", "yesterday", "no"),
    ],
)
def test_type_tests(op, value, expected):
    assert decide({"Variable": "$.v", op: True}, {"v": value}) == expected
    assert decide({"Variable": "$.v", op: False}, {"v": value}) == ("no" if expected == "yes" else "yes")


def test_is_present_is_the_only_test_that_accepts_a_missing_variable():
    assert decide({"Variable": "$.v", "IsPresent": True}, {"v": None}) == "yes"
    assert decide({"Variable": "$.v", "IsPresent": True}, {}) == "no"
    assert decide({"Variable": "$.v", "IsPresent": False}, {}) == "yes"
    result = run(choice_machine({"Variable": "$.v", "IsNull": True}), {})
    assert (result.status, result.error) == ("FAILED", RUNTIME)
    assert "Invalid path '$.v'" in result.cause and "entered at the event id #2" in result.cause


def test_and_or_not():
    rule = {
        "And": [
            {"Variable": "$.n", "NumericGreaterThanEquals": 20},
            {"Variable": "$.n", "NumericLessThan": 30},
        ]
    }
    assert decide(rule, {"n": 25}) == "yes"
    assert decide(rule, {"n": 30}) == "no"
    rule = {
        "Or": [
            {"Not": {"Variable": "$.type", "StringEquals": "Private"}},
            {"Variable": "$.value", "IsPresent": False},
        ]
    }
    assert decide(rule, {"type": "Public", "value": 1}) == "yes"
    assert decide(rule, {"type": "Private", "value": 1}) == "no"
    assert decide(rule, {"type": "Private"}) == "yes"


def test_first_matching_rule_wins_and_no_match_without_default_fails():
    machine = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "First"},
                    {"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Second"},
                ],
            },
            "First": {"Type": "Pass", "Result": 1, "End": True},
            "Second": {"Type": "Pass", "Result": 2, "End": True},
        },
    }
    assert run(machine, {"n": 5}).output == 1
    assert run(machine, {"n": 0.5}).output == 2
    result = run(machine, {"n": 0})
    assert (result.status, result.error) == ("FAILED", "States.NoChoiceMatched")


def test_choice_on_context_object_and_variables():
    machine = {
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"limit": 3}, "Next": "C"},
            "C": {
                "Type": "Choice",
                "Default": "No",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$$.Execution.Name", "StringEquals": "run-1"},
                            {"Variable": "$.n", "NumericLessThanPath": "$limit"},
                        ],
                        "Next": "Yes",
                    }
                ],
            },
            "Yes": {"Type": "Pass", "Result": "yes", "End": True},
            "No": {"Type": "Pass", "Result": "no", "End": True},
        },
    }
    assert run(machine, {"n": 2}).output == "yes"
    assert run(machine, {"n": 3}).output == "no"


def test_choice_input_and_output_paths():
    machine = choice_machine({"Variable": "$.v", "NumericEquals": 1})
    machine["States"]["C"].update(InputPath="$.inner", OutputPath="$.v")
    machine["States"]["Yes"] = {"Type": "Pass", "End": True}
    assert run(machine, {"inner": {"v": 1, "other": 2}}).output == 1
