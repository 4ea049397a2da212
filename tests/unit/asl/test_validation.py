import json

import pytest

from cumulo.asl import InvalidDefinition, validate


def invalid(definition) -> str:
    with pytest.raises(InvalidDefinition) as info:
        validate(definition if isinstance(definition, str) else json.dumps(definition))
    message = info.value.message
    assert message.startswith("Invalid State Machine Definition: '") and message.endswith("'")
    return message


def machine(**states):
    return {"StartAt": next(iter(states)), "States": states}


def test_valid_definition_compiles():
    parsed = validate(json.dumps(machine(A={"Type": "Pass", "Next": "B"}, B={"Type": "Succeed"})))
    assert parsed.program.start_at == "A" and set(parsed.program.states) == {"A", "B"}


def test_json_and_empty_definitions():
    assert "INVALID_JSON_DESCRIPTION" in invalid("{not json")
    assert "MISSING_DESCRIPTION" in invalid("   ")


def test_missing_transition_target_points_at_the_field():
    message = invalid(machine(Bar={"Type": "Pass", "Next": "Foo"}))
    assert "MISSING_TRANSITION_TARGET: Missing 'Next' target: Foo at /States/Bar/Next" in message
    message = invalid({"StartAt": "Nope", "States": {"A": {"Type": "Pass", "End": True}}})
    assert "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope at /StartAt" in message


def test_unreachable_state():
    message = invalid(machine(A={"Type": "Pass", "End": True}, Orphan={"Type": "Pass", "End": True}))
    assert "UNREACHABLE_STATE" in message and "/States/Orphan" in message


def test_next_and_end_together_or_neither():
    assert "Exactly one of these fields must be provided: [Next, End] at /States/A" in invalid(
        machine(A={"Type": "Pass", "Next": "B", "End": True}, B={"Type": "Succeed"})
    )
    assert "at /States/A" in invalid(machine(A={"Type": "Pass"}))


def test_unknown_fields_and_bad_type():
    assert "SCHEMA_VALIDATION_FAILED: Field '_comment' is not supported at /States/A" in invalid(
        machine(A={"Type": "Pass", "End": True, "_comment": "x"})
    )
    assert (
        "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, "
        "Parallel, Map] at /States/A/Type"
    ) in invalid(machine(A={"Type": "Nope", "End": True}))
    assert "These fields are required: [Type] at /States/A" in invalid(machine(A={"End": True}))
    assert "Field 'Coment' is not supported at /" in invalid(
        {"Coment": "x", **machine(A={"Type": "Succeed"})}
    )


def test_duplicate_state_names_anywhere_in_the_machine():
    nested = machine(
        P={
            "Type": "Parallel",
            "End": True,
            "Branches": [{"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}],
        }
    )
    assert "DUPLICATE_STATE_NAME" in invalid(nested)
    text = '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "A": {"Type": "Succeed"}}}'
    assert "DUPLICATE_STATE_NAME" in invalid(text)


def test_bad_paths_and_intrinsics():
    assert "'InputPath' must be a valid JSONPath at /States/A/InputPath" in invalid(
        machine(A={"Type": "Pass", "InputPath": "no-dollar", "End": True})
    )
    assert "'ResultPath' must be a valid ReferencePath" in invalid(
        machine(A={"Type": "Pass", "ResultPath": "$.a[*]", "End": True})
    )
    assert "'x.$' must be a valid JSONPath or a valid intrinsic function call" in invalid(
        machine(A={"Type": "Pass", "Parameters": {"x.$": "States.Nope()"}, "End": True})
    )
    assert "at /States/A/Parameters/deep/x.$" in invalid(
        machine(A={"Type": "Pass", "Parameters": {"deep": {"x.$": "States.Format('{}'"}}, "End": True})
    )


def test_fields_not_allowed_in_the_query_language():
    message = invalid(machine(A={"Type": "Pass", "QueryLanguage": "JSONata", "Parameters": {}, "End": True}))
    assert "The field 'Parameters' is not supported when QueryLanguage is JSONata" in message
    message = invalid(machine(A={"Type": "Pass", "Output": {}, "End": True}))
    assert "The field 'Output' is not supported when QueryLanguage is JSONPath" in message
    jsonata_top = {
        "QueryLanguage": "JSONata",
        **machine(A={"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}),
    }
    assert "QueryLanguage" in invalid(jsonata_top)


def test_bad_jsonata():
    message = invalid(
        {"QueryLanguage": "JSONata", **machine(A={"Type": "Pass", "Output": "{% $x + %}", "End": True})}
    )
    assert "SCHEMA_VALIDATION_FAILED" in message and "/States/A/Output" in message


def test_choice_rules_are_checked():
    def choice(rule):
        return machine(C={"Type": "Choice", "Choices": [{**rule, "Next": "D"}]}, D={"Type": "Succeed"})

    assert "'NumericEquals' must be a NUMBER at /States/C/Choices[0]/NumericEquals" in invalid(
        choice({"Variable": "$.x", "NumericEquals": "1"})
    )
    assert "These fields are required: [Variable]" in invalid(choice({"StringEquals": "a"}))
    assert "Field 'Next' is not supported at /States/C/Choices[0]/Not/Next" in invalid(
        choice({"Not": {"Variable": "$.x", "IsNull": True, "Next": "D"}})
    )
    assert "valid TIMESTAMP" in invalid(choice({"Variable": "$.x", "TimestampEquals": "yesterday"}))


def test_retry_and_catch_rules():
    def task(**fields):
        return machine(
            T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True, **fields},
            H={"Type": "Succeed"},
        )

    assert "States.ALL must appear alone" in invalid(
        task(
            Retry=[{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}],
            Catch=[{"ErrorEquals": ["X"], "Next": "H"}],
        )
    )
    assert "BackoffRate" in invalid(
        task(Retry=[{"ErrorEquals": ["X"], "BackoffRate": 0.5}], Catch=[{"ErrorEquals": ["X"], "Next": "H"}])
    )
    assert "'States.Bogus' is not a valid error name" in invalid(
        task(Catch=[{"ErrorEquals": ["States.Bogus"], "Next": "H"}])
    )
    assert "JitterStrategy" in invalid(
        task(
            Retry=[{"ErrorEquals": ["X"], "JitterStrategy": "SOME"}],
            Catch=[{"ErrorEquals": ["X"], "Next": "H"}],
        )
    )


def test_task_fields():
    assert "INVALID_RESOURCE" in invalid(machine(T={"Type": "Task", "Resource": "not-an-arn", "End": True}))
    assert "HeartbeatSeconds" in invalid(
        machine(
            T={
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "TimeoutSeconds": 5,
                "HeartbeatSeconds": 10,
                "End": True,
            }
        )
    )


def test_wait_needs_exactly_one_duration():
    assert "Exactly one of these fields must be provided" in invalid(
        machine(W={"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True})
    )
    assert "RFC3339" in invalid(machine(W={"Type": "Wait", "Timestamp": "tomorrow", "End": True}))


def test_map_rules():
    processor = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    assert "only supported when the ProcessorConfig Mode is DISTRIBUTED" in invalid(
        machine(M={"Type": "Map", "ItemProcessor": processor, "ToleratedFailureCount": 1, "End": True})
    )
    assert "ExecutionType" in invalid(
        machine(
            M={
                "Type": "Map",
                "End": True,
                "ItemProcessor": {**processor, "ProcessorConfig": {"Mode": "DISTRIBUTED"}},
            }
        )
    )
    assert "[ItemProcessor, Iterator]" in invalid(machine(M={"Type": "Map", "End": True}))


def test_variable_names():
    assert "variable name 'states' is invalid" in invalid(
        machine(A={"Type": "Pass", "Assign": {"states": 1}, "End": True})
    )
    assert "variable name '1x' is invalid" in invalid(
        machine(A={"Type": "Pass", "Assign": {"1x": 1}, "End": True})
    )


def test_all_findings_are_reported_together():
    message = invalid(
        machine(A={"Type": "Pass", "Next": "Nowhere"}, B={"Type": "Pass", "Bogus": 1, "End": True})
    )
    assert "MISSING_TRANSITION_TARGET" in message and "Field 'Bogus'" in message
    assert message.count(" at /") >= 2
