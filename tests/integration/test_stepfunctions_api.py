"""Step Functions through boto3 against a real server: state machines, versions, aliases, tags,
executions (standard and express), history, errors, TestState, redrive and the sync- host prefix."""

from __future__ import annotations

import json
import socket
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/sfn-role"
PASS = {"Comment": "BASE_PASS_RESULT", "StartAt": "State_1",
        "States": {"State_1": {"Type": "Pass", "Result": {"Arg1": "argument1"}, "End": True}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    # workflow time runs 100x faster: Wait states and retry intervals take 1% of their time
    instance = CumuloServer(tmp_path_factory.mktemp("sfn-api") / "data",
                            env={"CUMULO_STATES_CLOCK_SCALE": "0.01"}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def sfn(server):
    return server.client("stepfunctions", inject_host_prefix=False)


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs")


def unique(prefix: str = "sm") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(sfn, definition=None, name=None, **kwargs) -> str:
    return sfn.create_state_machine(name=name or unique(), definition=json.dumps(definition or PASS), roleArn=ROLE,
                                    **kwargs)["stateMachineArn"]


def finished(sfn, arn: str, timeout: float = 15) -> dict:
    return wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                    timeout=timeout, message=f"execution {arn} to finish")


def history(sfn, arn: str, **kwargs) -> list[dict]:
    return sfn.get_execution_history(executionArn=arn, maxResults=1000, **kwargs)["events"]


def error_of(excinfo) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


# ---------------------------------------------------------------- state machines


def test_create_describe_list_delete(sfn):
    name = unique()
    created = sfn.create_state_machine(name=name, definition=json.dumps(PASS), roleArn=ROLE)
    arn = created["stateMachineArn"]
    assert arn == f"arn:aws:states:us-east-1:000000000000:stateMachine:{name}"
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert json.loads(described["definition"]) == PASS
    assert described["status"] == "ACTIVE" and described["type"] == "STANDARD"
    assert described["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
    assert described["tracingConfiguration"] == {"enabled": False}
    assert "revisionId" not in described
    assert described["creationDate"] == created["creationDate"]
    names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    assert name in names and names == sorted(names)
    # identical request: idempotent; different definition: StateMachineAlreadyExists
    again = sfn.create_state_machine(name=name, definition=json.dumps(PASS), roleArn=ROLE)
    assert again["stateMachineArn"] == arn
    other = {**PASS, "Comment": "changed"}
    with pytest.raises(ClientError) as excinfo:
        sfn.create_state_machine(name=name, definition=json.dumps(other), roleArn=ROLE)
    assert error_of(excinfo) == ("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as excinfo:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert error_of(excinfo) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
    sfn.delete_state_machine(stateMachineArn=arn)  # deleting what does not exist succeeds


def test_list_state_machines_pagination(sfn):
    prefix = unique("page")
    arns = [create(sfn, name=f"{prefix}-{i:02d}") for i in range(5)]
    seen, token = [], None
    while True:
        page = sfn.list_state_machines(maxResults=2, **({"nextToken": token} if token else {}))
        seen += [m["stateMachineArn"] for m in page["stateMachines"]]
        token = page.get("nextToken")
        if not token:
            break
    assert [a for a in seen if prefix in a] == arns
    with pytest.raises(ClientError) as excinfo:
        sfn.list_state_machines(maxResults=1001)
    assert error_of(excinfo)[0] == "ValidationException"


def test_invalid_definitions_are_rejected_with_aws_messages(sfn):
    cases = [
        ({"StartAt": "A"}, "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: "
                           "[States] at /'"),
        ({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::foo:bar", "End": True}}},
         "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource provided "
         "arn:aws:states:::foo:bar is not recognized. The value is not a valid resource ARN, or the resource is not "
         "available in this region. at /States/T/Resource'"),
        ({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.sync",
                                           "End": True}}},
         "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource provided "
         "arn:aws:states:::lambda:invoke.sync is not recognized. The value is not a valid resource ARN, or the "
         "resource is not available in this region. at /States/T/Resource'"),
    ]
    for definition, message in cases:
        with pytest.raises(ClientError) as excinfo:
            create(sfn, definition)
        assert error_of(excinfo) == ("InvalidDefinition", message)
    with pytest.raises(ClientError) as excinfo:
        sfn.create_state_machine(name="bad name", definition=json.dumps(PASS), roleArn=ROLE)
    assert error_of(excinfo) == ("InvalidName", "Invalid Name: 'bad name'")


def test_express_machines_reject_callbacks_and_sync(sfn):
    token = {"StartAt": "Publish", "States": {"Publish": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
        "Parameters": {"QueueUrl": "q", "MessageBody": {"t.$": "$$.Task.Token"}}}}}
    with pytest.raises(ClientError) as excinfo:
        create(sfn, token, type="EXPRESS")
    assert error_of(excinfo) == ("InvalidDefinition", "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
                                 "Express state machine does not support '.waitForTaskToken' service integration  at "
                                 "/States/Publish/Resource'")
    sync = {"StartAt": "StartExecution", "States": {"StartExecution": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync", "End": True,
        "Parameters": {"StateMachineArn": "x"}}}}
    with pytest.raises(ClientError) as excinfo:
        create(sfn, sync, type="EXPRESS")
    assert "Express state machine does not support '.sync' service integration at /States/StartExecution/" \
           "Resource" in error_of(excinfo)[1]


def test_validate_state_machine_definition(sfn):
    valid = sfn.validate_state_machine_definition(definition=json.dumps(PASS))
    assert (valid["result"], valid["diagnostics"], valid["truncated"]) == ("OK", [], False)
    found = sfn.validate_state_machine_definition(definition=json.dumps({"StartAt": "X", "States": {}}))
    assert found["result"] == "FAIL" and found["diagnostics"][0]["severity"] == "ERROR"
    assert found["diagnostics"][0]["code"] and found["diagnostics"][0]["message"]


def test_update_state_machine_revisions(sfn):
    arn = create(sfn)
    with pytest.raises(ClientError) as excinfo:
        sfn.update_state_machine(stateMachineArn=arn)
    assert error_of(excinfo) == ("MissingRequiredParameter", "Either the definition, the role ARN, the "
                                 "LoggingConfiguration, or the TracingConfiguration must be specified")
    first = sfn.update_state_machine(stateMachineArn=arn, roleArn=ROLE + "-2")
    second = sfn.update_state_machine(stateMachineArn=arn, roleArn=ROLE + "-2")
    assert first["revisionId"] == second["revisionId"]  # nothing changed: the same revision
    third = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps({**PASS, "Comment": "v3"}))
    assert third["revisionId"] != first["revisionId"]
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["revisionId"] == third["revisionId"] and described["roleArn"] == ROLE + "-2"
    with pytest.raises(ClientError) as excinfo:
        sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps({"StartAt": "Nope", "States": {}}))
    assert error_of(excinfo)[0] == "InvalidDefinition"


# ---------------------------------------------------------------- versions and aliases


def test_versions_publish_list_delete(sfn):
    with pytest.raises(ClientError) as excinfo:
        create(sfn, versionDescription="x")
    assert error_of(excinfo) == ("ValidationException", "Version description can only be set when publish is true")
    created = sfn.create_state_machine(name=unique(), definition=json.dumps(PASS), roleArn=ROLE, publish=True,
                                       versionDescription="first")
    arn = created["stateMachineArn"]
    assert created["stateMachineVersionArn"] == f"{arn}:1"
    version = sfn.describe_state_machine(stateMachineArn=f"{arn}:1")
    assert version["stateMachineArn"] == f"{arn}:1" and version["description"] == "first"
    # publishing an unchanged revision returns the same version
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == f"{arn}:1"
    update = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps({**PASS, "Comment": "R2"}),
                                      publish=True, versionDescription="second")
    assert update["stateMachineVersionArn"] == f"{arn}:2"
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps({**PASS, "Comment": "R3"}))
    with pytest.raises(ClientError) as excinfo:
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=update["revisionId"])
    code, message = error_of(excinfo)
    assert code == "ConflictException"
    assert message.startswith(f"Failed to publish the State Machine version for revision {update['revisionId']}.")
    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [f"{arn}:2", f"{arn}:1"]
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:2")
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:2")
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == f"{arn}:3"
    with pytest.raises(ClientError) as excinfo:
        sfn.describe_state_machine(stateMachineArn=f"{arn}:2")
    assert error_of(excinfo)[0] == "StateMachineDoesNotExist"
    # an execution started with a version runs that version's definition and lists its ARN
    started = sfn.start_execution(stateMachineArn=f"{arn}:1")
    assert finished(sfn, started["executionArn"])["stateMachineVersionArn"] == f"{arn}:1"
    listed = sfn.list_executions(stateMachineArn=f"{arn}:1")["executions"]
    assert [e["executionArn"] for e in listed] == [started["executionArn"]]
    assert sfn.list_executions(stateMachineArn=f"{arn}:3")["executions"] == []


def test_aliases_route_and_validate(sfn):
    arn = sfn.create_state_machine(name=unique(), definition=json.dumps(PASS), roleArn=ROLE,
                                   publish=True)["stateMachineArn"]
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(
        {"StartAt": "S", "States": {"S": {"Type": "Pass", "Result": "two", "End": True}}}), publish=True)
    alias = sfn.create_state_machine_alias(name="live", description="d", routingConfiguration=[
        {"stateMachineVersionArn": f"{arn}:1", "weight": 100}])["stateMachineAliasArn"]
    assert alias == f"{arn}:live"
    # idempotent create; a different routing is a conflict
    sfn.create_state_machine_alias(name="live", description="d", routingConfiguration=[
        {"stateMachineVersionArn": f"{arn}:1", "weight": 100}])
    with pytest.raises(ClientError) as excinfo:
        sfn.create_state_machine_alias(name="live", routingConfiguration=[
            {"stateMachineVersionArn": f"{arn}:2", "weight": 100}])
    assert error_of(excinfo) == ("ConflictException", "Failed to create alias because an alias with the same name "
                                 "and a different routing configuration already exists.")
    for routes, message in [
        ([{"stateMachineVersionArn": arn, "weight": 100}],
         f"Routing configuration must contain state machine version ARNs. Received: [{arn}]"),
        ([{"stateMachineVersionArn": f"{arn}:1", "weight": 50}, {"stateMachineVersionArn": f"{arn}:1", "weight": 50}],
         f"Routing configuration must contain distinct state machine version ARNs. Received: [{arn}:1, {arn}:1]"),
        ([{"stateMachineVersionArn": f"{arn}:1", "weight": 70}, {"stateMachineVersionArn": f"{arn}:2", "weight": 29}],
         "Sum of routing configuration weights must equal 100. Received: [70, 29]"),
    ]:
        with pytest.raises(ClientError) as excinfo:
            sfn.create_state_machine_alias(name="other", routingConfiguration=routes)
        assert error_of(excinfo) == ("ValidationException", message)
    with pytest.raises(ClientError) as excinfo:
        sfn.create_state_machine_alias(name="123", routingConfiguration=[
            {"stateMachineVersionArn": f"{arn}:1", "weight": 100}])
    assert error_of(excinfo)[0] == "ValidationException"
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert described["routingConfiguration"] == [{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    # executions through the alias run the routed version and remember the alias
    execution = sfn.start_execution(stateMachineArn=alias)["executionArn"]
    done = finished(sfn, execution)
    assert (done["stateMachineAliasArn"], done["stateMachineVersionArn"]) == (alias, f"{arn}:1")
    started = history(sfn, execution)[0]["executionStartedEventDetails"]
    assert (started["stateMachineAliasArn"], started["stateMachineVersionArn"]) == (alias, f"{arn}:1")
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[
        {"stateMachineVersionArn": f"{arn}:1", "weight": 50}, {"stateMachineVersionArn": f"{arn}:2", "weight": 50}])
    outputs = set()
    for _ in range(30):
        outputs.add(finished(sfn, sfn.start_execution(stateMachineArn=alias)["executionArn"])["output"])
        if len(outputs) == 2:
            break
    assert outputs == {json.dumps({"Arg1": "argument1"}, separators=(",", ":")), '"two"'}
    with pytest.raises(ClientError) as excinfo:
        sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:2")
    assert error_of(excinfo) == ("ConflictException", "Version to be deleted must not be referenced by an alias. "
                                 "Current list of aliases referencing this version: [live]")
    listed = sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in listed] == [alias]
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    with pytest.raises(ClientError) as excinfo:
        sfn.update_state_machine_alias(stateMachineAliasArn=alias, description="x")
    assert error_of(excinfo) == ("ResourceNotFound", "Request references a resource that does not exist.")


def test_tags(sfn):
    arn = sfn.create_state_machine(name=unique(), definition=json.dumps(PASS), roleArn=ROLE,
                                   tags=[{"key": "team", "value": "a"}])["stateMachineArn"]
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "dev"}, {"key": "team", "value": "b"}])
    tags = sfn.list_tags_for_resource(resourceArn=arn)["tags"]
    assert sorted((t["key"], t["value"]) for t in tags) == [("env", "dev"), ("team", "b")]
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "dev"}]
    with pytest.raises(ClientError) as excinfo:
        sfn.tag_resource(resourceArn=arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(50)])
    assert error_of(excinfo)[0] == "TooManyTags"
    missing = arn + "-missing"
    with pytest.raises(ClientError) as excinfo:
        sfn.list_tags_for_resource(resourceArn=missing)
    assert error_of(excinfo) == ("ResourceNotFound", f"Resource not found: '{missing}'")


# ---------------------------------------------------------------- executions


def test_start_execution_history_and_describe(sfn):
    arn = create(sfn)
    started = sfn.start_execution(stateMachineArn=arn, name="first", input='{"in": 1}')
    assert started["executionArn"] == arn.replace(":stateMachine:", ":execution:") + ":first"
    done = finished(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"Arg1": "argument1"}
    assert done["input"] == '{"in": 1}' and done["inputDetails"] == {"included": True}
    assert done["redriveStatus"] == "NOT_REDRIVABLE"
    assert done["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    assert done["startDate"] <= done["stopDate"]
    events = history(sfn, started["executionArn"])
    assert events[0]["timestamp"] == done["startDate"] == started["startDate"]
    assert events[-1]["timestamp"] == done["stopDate"]
    assert [(e["id"], e["previousEventId"], e["type"]) for e in events] == [
        (1, 0, "ExecutionStarted"), (2, 0, "PassStateEntered"), (3, 2, "PassStateExited"),
        (4, 3, "ExecutionSucceeded")]
    assert events[0]["executionStartedEventDetails"] == {
        "input": '{"in":1}', "inputDetails": {"truncated": False}, "roleArn": ROLE}
    assert events[1]["stateEnteredEventDetails"]["name"] == "State_1"
    assert json.loads(events[3]["executionSucceededEventDetails"]["output"]) == {"Arg1": "argument1"}
    reverse = history(sfn, started["executionArn"], reverseOrder=True)
    assert [e["id"] for e in reverse] == [4, 3, 2, 1]
    bare = history(sfn, started["executionArn"], includeExecutionData=False)
    assert bare[0]["executionStartedEventDetails"] == {"roleArn": ROLE}
    described = sfn.describe_state_machine_for_execution(executionArn=started["executionArn"])
    assert json.loads(described["definition"]) == PASS and described["stateMachineArn"] == arn


def test_start_execution_is_idempotent_by_name_while_running(sfn):
    arn = create(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    first = sfn.start_execution(stateMachineArn=arn, name="same", input='{"a":1}')
    again = sfn.start_execution(stateMachineArn=arn, name="same", input='{"a":1}')
    assert again["executionArn"] == first["executionArn"] and again["startDate"] == first["startDate"]
    with pytest.raises(ClientError) as excinfo:
        sfn.start_execution(stateMachineArn=arn, name="same", input='{"a":2}')
    assert error_of(excinfo) == ("ExecutionAlreadyExists", f"Execution Already Exists: '{first['executionArn']}'")
    stopped = sfn.stop_execution(executionArn=first["executionArn"], error="Stopped.ByTest", cause="done")
    described = sfn.describe_execution(executionArn=first["executionArn"])
    assert described["status"] == "ABORTED" and described["stopDate"] == stopped["stopDate"]
    assert (described["error"], described["cause"]) == ("Stopped.ByTest", "done")
    assert described["redriveStatus"] == "REDRIVABLE"
    # a closed execution's name cannot be reused, even with the same input
    with pytest.raises(ClientError) as excinfo:
        sfn.start_execution(stateMachineArn=arn, name="same", input='{"a":1}')
    assert error_of(excinfo)[0] == "ExecutionAlreadyExists"
    events = history(sfn, first["executionArn"])
    assert [e["type"] for e in events] == ["ExecutionStarted", "WaitStateEntered", "ExecutionAborted"]
    assert events[-1]["executionAbortedEventDetails"] == {"error": "Stopped.ByTest", "cause": "done"}


def test_execution_errors(sfn):
    arn = create(sfn)
    for bad, message in [("not json", None), ("", "Invalid State Machine Execution Input: 'Invalid execution input.'")]:
        with pytest.raises(ClientError) as excinfo:
            sfn.start_execution(stateMachineArn=arn, input=bad)
        code, text = error_of(excinfo)
        assert code == "InvalidExecutionInput" and text.startswith("Invalid State Machine Execution Input: '")
        if message:
            assert text == message
    for value in ("1", '"text"', "null"):
        assert sfn.start_execution(stateMachineArn=arn, input=value)["executionArn"]
    missing = arn + "-missing"
    with pytest.raises(ClientError) as excinfo:
        sfn.start_execution(stateMachineArn=missing)
    assert error_of(excinfo) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{missing}'")
    with pytest.raises(ClientError) as excinfo:
        sfn.describe_execution(executionArn="invalid_execution_arn")
    assert error_of(excinfo) == ("InvalidArn", "Invalid Arn: 'Invalid ARN prefix: invalid_execution_arn'")
    gone = arn.replace(":stateMachine:", ":execution:") + ":nope"
    for call in (sfn.describe_execution, sfn.get_execution_history):
        with pytest.raises(ClientError) as excinfo:
            call(executionArn=gone)
        assert error_of(excinfo) == ("ExecutionDoesNotExist", f"Execution Does Not Exist: '{gone}'")
    with pytest.raises(ClientError) as excinfo:
        sfn.list_executions(stateMachineArn=missing)
    assert error_of(excinfo)[0] == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as excinfo:
        sfn.list_executions(stateMachineArn=arn, statusFilter="succeeded")
    assert error_of(excinfo) == ("ValidationException", "1 validation error detected: Value 'succeeded' at "
                                 "'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: "
                                 "[RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]")
    with pytest.raises(ClientError) as excinfo:
        sfn.start_sync_execution(stateMachineArn=arn)
    assert error_of(excinfo) == ("StateMachineTypeNotSupported",
                                 "This operation is not supported by this type of state machine")


def test_list_executions_newest_first_with_filters_and_pages(sfn):
    arn = create(sfn, {"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.fail", "BooleanEquals": True, "Next": "F"}], "Default": "P"},
        "F": {"Type": "Fail", "Error": "E"}, "P": {"Type": "Pass", "End": True}}})
    names = []
    for i in range(7):
        name = f"e{i}"
        sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps({"fail": i % 3 == 0}))
        names.append(name)
        finished(sfn, arn.replace(":stateMachine:", ":execution:") + f":{name}")
    seen, token = [], None
    while True:
        page = sfn.list_executions(stateMachineArn=arn, maxResults=3, **({"nextToken": token} if token else {}))
        assert len(page["executions"]) <= 3
        seen += [e["name"] for e in page["executions"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names[::-1]
    failed = sfn.list_executions(stateMachineArn=arn, statusFilter="FAILED")["executions"]
    assert [e["name"] for e in failed] == ["e6", "e3", "e0"]
    assert all(e["status"] == "FAILED" and "stopDate" in e for e in failed)


def test_history_pagination(sfn):
    chain = {"StartAt": "S0", "States": {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(9)}}
    chain["States"]["S9"] = {"Type": "Pass", "End": True}
    arn = sfn.start_execution(stateMachineArn=create(sfn, chain))["executionArn"]
    finished(sfn, arn)
    ids, token = [], None
    while True:
        page = sfn.get_execution_history(executionArn=arn, maxResults=7, **({"nextToken": token} if token else {}))
        ids += [e["id"] for e in page["events"]]
        token = page.get("nextToken")
        if not token:
            break
    assert ids == list(range(1, 23))
    with pytest.raises(ClientError) as excinfo:
        sfn.get_execution_history(executionArn=arn, nextToken="garbage")
    assert error_of(excinfo)[0] == "InvalidToken"


def test_failure_catch_retry_and_timeouts(sfn):
    definition = {"StartAt": "Fail", "States": {
        "Fail": {"Type": "Fail", "Error": "Custom.Error", "Cause": "it broke"}}}
    execution = sfn.start_execution(stateMachineArn=create(sfn, definition))["executionArn"]
    done = finished(sfn, execution)
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Custom.Error", "it broke")
    assert done["redriveStatus"] == "REDRIVABLE"
    timed = {"TimeoutSeconds": 5, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    execution = sfn.start_execution(stateMachineArn=create(sfn, timed))["executionArn"]
    done = finished(sfn, execution)
    assert (done["status"], done["error"]) == ("TIMED_OUT", "States.Timeout")
    assert history(sfn, execution)[-1]["type"] == "ExecutionTimedOut"


def test_map_and_parallel_history_events(sfn):
    definition = {"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "Next": "Map", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": 2, "End": True}}}]},
        "Map": {"Type": "Map", "End": True, "ItemProcessor": {
            "StartAt": "Twice", "States": {"Twice": {"Type": "Pass", "End": True}}}}}}
    execution = sfn.start_execution(stateMachineArn=create(sfn, definition))["executionArn"]
    assert json.loads(finished(sfn, execution)["output"]) == [1, 2]
    types = [e["type"] for e in history(sfn, execution)]
    for expected in ("ParallelStateEntered", "ParallelStateStarted", "ParallelStateSucceeded",
                     "ParallelStateExited", "MapStateEntered", "MapStateStarted", "MapIterationStarted",
                     "MapIterationSucceeded", "MapStateSucceeded", "MapStateExited"):
        assert expected in types
    started = next(e for e in history(sfn, execution) if e["type"] == "MapStateStarted")
    assert started["mapStateStartedEventDetails"] == {"length": 2}
    iteration = next(e for e in history(sfn, execution) if e["type"] == "MapIterationStarted")
    assert iteration["mapIterationStartedEventDetails"]["name"] == "Map"


def test_redrive_failed_execution_reruns_only_what_failed(sfn):
    # the first run fails in state Check because $.ok is missing; after the redrive it still fails
    # (the input is the same), but succeeded work is not redone and history continues
    definition = {"StartAt": "Count", "States": {
        "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathRandom(1, 1000000)"}, "ResultPath": "$.r",
                  "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "IsPresent": True, "Next": "Done"}]},
        "Done": {"Type": "Succeed"}}}
    arn = create(sfn, definition)
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    assert finished(sfn, execution)["error"] == "States.NoChoiceMatched"
    with pytest.raises(ClientError) as excinfo:
        sfn.redrive_execution(executionArn=sfn.start_execution(stateMachineArn=create(sfn))["executionArn"])
    assert error_of(excinfo)[0] in ("ExecutionNotRedrivable",)
    first_events = history(sfn, execution)
    redriven = sfn.redrive_execution(executionArn=execution)
    assert redriven["redriveDate"]
    done = finished(sfn, execution)
    assert done["redriveCount"] == 1 and done["status"] == "FAILED"
    events = history(sfn, execution)
    assert events[:len(first_events)] == first_events
    new = [e["type"] for e in events[len(first_events):]]
    assert new[0] == "ExecutionRedriven" and "ChoiceStateEntered" in new and "PassStateEntered" not in new
    assert events[len(first_events)]["executionRedrivenEventDetails"] == {"redriveCount": 1}
    listed = sfn.list_executions(stateMachineArn=arn, redriveFilter="REDRIVEN")["executions"]
    assert [e["executionArn"] for e in listed] == [execution]


# ---------------------------------------------------------------- express


def test_express_sync_execution(sfn):
    arn = create(sfn, type="EXPRESS")
    result = sfn.start_sync_execution(stateMachineArn=arn, name="sync-1", input='{"x": 1}')
    assert result["status"] == "SUCCEEDED"
    assert result["executionArn"].startswith(f"{arn.replace(':stateMachine:', ':express:')}:sync-1:")
    assert json.loads(result["output"]) == {"Arg1": "argument1"}
    assert result["input"] == '{"x": 1}' and result["inputDetails"] == {"included": True}
    assert result["billingDetails"]["billedDurationInMilliseconds"] >= 100
    failing = create(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Oops", "Cause": "c"}}},
                     type="EXPRESS")
    result = sfn.start_sync_execution(stateMachineArn=failing)
    assert (result["status"], result["error"], result["cause"]) == ("FAILED", "Oops", "c")
    assert "output" not in result
    # express executions are not in the execution APIs
    async_arn = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert ":express:" in async_arn
    for call in (sfn.describe_execution, sfn.get_execution_history, sfn.stop_execution):
        with pytest.raises(ClientError) as excinfo:
            call(executionArn=async_arn)
        assert error_of(excinfo) == ("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: express'")
    with pytest.raises(ClientError) as excinfo:
        sfn.list_executions(stateMachineArn=arn)
    assert error_of(excinfo)[0] == "StateMachineTypeNotSupported"


def _log_events(logs, group: str, count: int) -> list[dict]:
    def read():
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except ClientError:
            return None
        return events if len(events) >= count else None
    return [json.loads(e["message"]) for e in wait_for(read, message=f"{count} log events in {group}")]


def test_express_execution_logs_to_cloudwatch(sfn, logs):
    group = f"/aws/vendedlogs/states/{unique('g')}"
    logs.create_log_group(logGroupName=group)
    group_arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:*"
    arn = create(sfn, type="EXPRESS", loggingConfiguration={
        "level": "ALL", "includeExecutionData": True,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}]})
    assert sfn.describe_state_machine(stateMachineArn=arn)["loggingConfiguration"]["level"] == "ALL"
    execution = sfn.start_execution(stateMachineArn=arn, input='{"k": "v"}')["executionArn"]
    events = _log_events(logs, group, 4)
    assert [e["type"] for e in events] == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                           "ExecutionSucceeded"]
    assert all(e["execution_arn"] == execution and e["redrive_count"] == "0" for e in events)
    assert events[0]["id"] == "1" and events[0]["previous_event_id"] == "0"
    assert events[0]["details"]["input"] == '{"k":"v"}' and events[0]["details"]["roleArn"] == ROLE
    assert int(events[0]["event_timestamp"]) > 0
    # ERROR level without execution data: only the failure, and no input or output
    group2 = f"/aws/vendedlogs/states/{unique('g')}"
    failing = create(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}},
                     type="EXPRESS", loggingConfiguration={
                         "level": "ERROR", "includeExecutionData": False, "destinations": [
                             {"cloudWatchLogsLogGroup": {
                                 "logGroupArn": f"arn:aws:logs:us-east-1:000000000000:log-group:{group2}:*"}}]})
    sfn.start_sync_execution(stateMachineArn=failing, input='{"secret": 1}')
    events = _log_events(logs, group2, 2)
    assert [e["type"] for e in events] == ["FailStateEntered", "ExecutionFailed"]
    assert events[0]["details"] == {"name": "F"}
    assert events[1]["details"] == {"error": "E", "cause": "C"}
    with pytest.raises(ClientError) as excinfo:
        create(sfn, type="EXPRESS", loggingConfiguration={"level": "ALL"})
    assert error_of(excinfo) == ("InvalidLoggingConfiguration",
                                 "Invalid Logging Configuration: Must specify exactly one Log Destination.")


def test_standard_execution_logs_at_fatal_level(sfn, logs):
    group = f"/aws/vendedlogs/states/{unique('g')}"
    arn = create(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}, loggingConfiguration={
        "level": "FATAL", "destinations": [{"cloudWatchLogsLogGroup": {
            "logGroupArn": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:*"}}]})
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    finished(sfn, execution)
    events = _log_events(logs, group, 1)
    assert [e["type"] for e in events] == ["ExecutionFailed"]
    assert events[0]["execution_arn"] == execution


# ---------------------------------------------------------------- TestState


def test_test_state(sfn):
    state = {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "ResultPath": "$.out",
             "Next": "After"}
    result = sfn.test_state(definition=json.dumps(state), roleArn=ROLE, input='{"n": 21}', inspectionLevel="DEBUG")
    assert result["status"] == "SUCCEEDED" and result["nextState"] == "After"
    assert json.loads(result["output"]) == {"n": 21, "out": {"doubled": 42}}
    assert json.loads(result["inspectionData"]["afterParameters"]) == {"doubled": 42}
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2}], "End": True}
    retriable = sfn.test_state(definition=json.dumps(task), roleArn=ROLE, inspectionLevel="DEBUG",
                               mock={"errorOutput": {"error": "Boom", "cause": "mocked"}})
    assert (retriable["status"], retriable["error"]) == ("RETRIABLE", "Boom")
    assert retriable["inspectionData"]["errorDetails"]["retryBackoffIntervalSeconds"] == 2
    mocked = sfn.test_state(definition=json.dumps({**task, "Retry": []}), roleArn=ROLE,
                            mock={"result": '{"Payload": {"ok": true}}'})
    assert json.loads(mocked["output"]) == {"Payload": {"ok": True}}
    machine = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Fail", "Error": "X"}}}
    failed = sfn.test_state(definition=json.dumps(machine), roleArn=ROLE, stateName="B")
    assert (failed["status"], failed["error"]) == ("FAILED", "X")
    with pytest.raises(ClientError) as excinfo:
        sfn.test_state(definition=json.dumps({"Type": "Nope"}), roleArn=ROLE)
    assert error_of(excinfo)[0] == "InvalidDefinition"


# ---------------------------------------------------------------- the sync- host prefix


def test_start_sync_execution_with_the_sdk_host_prefix(server, sfn, monkeypatch):
    arn = create(sfn, type="EXPRESS")
    # 1. inject_host_prefix=False (the sfn fixture): the request goes to the endpoint as given
    assert sfn.start_sync_execution(stateMachineArn=arn)["status"] == "SUCCEEDED"
    # 2. the default client sends to sync-<host>: with a host name that resolves (an /etc/hosts line
    # "127.0.0.1 sync-localhost", simulated here), the server answers whatever the Host header says
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        return real("127.0.0.1" if host == "sync-localhost" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    import boto3
    client = boto3.client("stepfunctions", endpoint_url=f"http://localhost:{server.port}", region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test",
                          config=Config(retries={"max_attempts": 1}))
    response = client.start_sync_execution(stateMachineArn=arn)
    assert response["status"] == "SUCCEEDED"
    assert client.test_state(definition=json.dumps({"Type": "Pass", "End": True}), roleArn=ROLE)["status"] == \
        "SUCCEEDED"
