"""Task integrations end to end: real Lambda functions (legacy ARN and lambda:invoke, errors,
.waitForTaskToken with SendTaskSuccess/Failure/Heartbeat from outside), nested executions
(.sync, .sync:2, fire and forget, callbacks), and SQS/SNS/EventBridge when this build has them."""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/sfn-role"
LAMBDA_ROLE = "arn:aws:iam::000000000000:role/lambda-role"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("sfn-tasks") / "data",
                            env={"CUMULO_STATES_CLOCK_SCALE": "0.05"}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def sfn(server):
    return server.client("stepfunctions", inject_host_prefix=False, read_timeout=60)


@pytest.fixture(scope="module")
def lam(server):
    return server.client("lambda", read_timeout=60)


def served(server, service: str) -> bool:
    return service in server.health()["services"]


def deploy(lam, code: str, **config) -> str:
    name = f"fn-{uuid.uuid4().hex[:10]}"
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=LAMBDA_ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": textwrap.dedent(code).lstrip()})}, Timeout=30, **config)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    return name


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:000000000000:function:{name}"


def machine(sfn, definition: dict, **kwargs) -> str:
    return sfn.create_state_machine(name=f"sm-{uuid.uuid4().hex[:10]}", definition=json.dumps(definition),
                                    roleArn=ROLE, **kwargs)["stateMachineArn"]


def run(sfn, arn: str, data=None, timeout: float = 60) -> dict:
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(data if data is not None else {}))
    return finished(sfn, execution["executionArn"], timeout)


def finished(sfn, execution: str, timeout: float = 60) -> dict:
    return wait_for(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
                    timeout=timeout, message=f"{execution} to finish")


def events(sfn, execution: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]


def event_types(sfn, execution: str) -> list[str]:
    return [e["type"] for e in events(sfn, execution)]


ECHO = """
def handler(event, context):
    return {"got": event, "request": context.aws_request_id}
"""

FAILING = """
class OrderError(Exception):
    pass

def handler(event, context):
    raise OrderError("order " + str(event.get("id")) + " is invalid")
"""


@pytest.fixture(scope="module")
def echo(lam):
    return deploy(lam, ECHO)


@pytest.fixture(scope="module")
def failing(lam):
    return deploy(lam, FAILING)


# ---------------------------------------------------------------- Lambda


def test_lambda_legacy_arn(sfn, echo):
    arn = machine(sfn, {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": function_arn(echo), "End": True}}})
    done = run(sfn, arn, {"order": 1})
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"])["got"] == {"order": 1}
    history = events(sfn, done["executionArn"])
    assert [e["type"] for e in history] == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled",
                                            "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
                                            "ExecutionSucceeded"]
    scheduled = history[2]["lambdaFunctionScheduledEventDetails"]
    assert scheduled == {"resource": function_arn(echo), "input": '{"order":1}', "inputDetails": {"truncated": False}}
    assert "lambdaFunctionStartedEventDetails" not in history[3]
    assert json.loads(history[4]["lambdaFunctionSucceededEventDetails"]["output"])["got"] == {"order": 1}


def test_lambda_invoke_integration_output(sfn, echo):
    arn = machine(sfn, {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
        "Parameters": {"FunctionName": echo, "Payload.$": "$"}}}})
    done = run(sfn, arn, {"order": 2})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["Payload"]["got"] == {"order": 2}
    assert output["StatusCode"] == 200 and output["ExecutedVersion"] == "$LATEST"
    assert output["SdkResponseMetadata"]["RequestId"] == output["Payload"]["request"]
    headers = output["SdkHttpMetadata"]["HttpHeaders"]
    assert headers["X-Amz-Executed-Version"] == "$LATEST" and output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert output["SdkHttpMetadata"]["AllHttpHeaders"]["Content-Type"] == ["application/json"]
    history = events(sfn, done["executionArn"])
    assert [e["type"] for e in history][2:5] == ["TaskScheduled", "TaskStarted", "TaskSucceeded"]
    assert history[2]["taskScheduledEventDetails"] == {
        "resourceType": "lambda", "resource": "invoke", "region": "us-east-1",
        "parameters": json.dumps({"FunctionName": echo, "Payload": {"order": 2}}, separators=(",", ":"))}
    assert history[3]["taskStartedEventDetails"] == {"resourceType": "lambda", "resource": "invoke"}


def test_lambda_errors_surface_with_the_error_type(sfn, failing):
    legacy = machine(sfn, {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": function_arn(failing), "End": True}}})
    done = run(sfn, legacy, {"id": 7})
    assert (done["status"], done["error"]) == ("FAILED", "OrderError")
    cause = json.loads(done["cause"])
    assert cause["errorType"] == "OrderError" and cause["errorMessage"] == "order 7 is invalid"
    history = events(sfn, done["executionArn"])
    failed = next(e for e in history if e["type"] == "LambdaFunctionFailed")
    assert failed["lambdaFunctionFailedEventDetails"]["error"] == "OrderError"
    # lambda:invoke: caught by name, with a retry first (retry intervals run on the fast clock)
    optimized = machine(sfn, {"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Done",
                 "Parameters": {"FunctionName": failing, "Payload.$": "$"},
                 "Retry": [{"ErrorEquals": ["OrderError"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                 "Catch": [{"ErrorEquals": ["OrderError"], "ResultPath": "$.error", "Next": "Handled"}]},
        "Handled": {"Type": "Pass", "End": True}, "Done": {"Type": "Succeed"}}})
    done = run(sfn, optimized, {"id": 8})
    assert done["status"] == "SUCCEEDED"
    caught = json.loads(done["output"])["error"]
    assert caught["Error"] == "OrderError"
    assert json.loads(caught["Cause"])["errorMessage"] == "order 8 is invalid"
    types = event_types(sfn, done["executionArn"])
    assert types.count("TaskScheduled") == 2 and types.count("TaskFailed") == 2


def test_lambda_service_errors(sfn):
    missing = f"no-such-{uuid.uuid4().hex[:6]}"
    arn = machine(sfn, {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
        "Parameters": {"FunctionName": missing}}}})
    done = run(sfn, arn)
    assert (done["status"], done["error"]) == ("FAILED", "Lambda.ResourceNotFoundException")
    assert done["cause"].startswith(f"Function not found: {function_arn(missing)} (Service: AWSLambda; "
                                    "Status Code: 404; Error Code: ResourceNotFoundException; Request ID: ")
    assert done["cause"].endswith("; Proxy: null)")


CALLBACK = """
import boto3, json

def handler(event, context):
    # hand the token to the outside world: a test reads it from this function's log
    print("TOKEN " + json.dumps({"token": event["token"], "order": event["order"]}))
    return {"submitted": True}
"""


def token_of(logs, function: str, order: int) -> str:
    def find():
        try:
            found = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
        except ClientError:
            return None
        for item in found:
            if item["message"].startswith("TOKEN "):
                document = json.loads(item["message"][6:])
                if document["order"] == order:
                    return document["token"]
        return None
    return wait_for(find, timeout=30, message="the task token in the function's log")


def test_wait_for_task_token_success_failure_and_heartbeat(server, sfn, lam):
    logs = server.client("logs")
    function = deploy(lam, CALLBACK)
    arn = machine(sfn, {"StartAt": "Wait", "States": {"Wait": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": True,
        "HeartbeatSeconds": 600, "TimeoutSeconds": 3600,
        "Parameters": {"FunctionName": function, "Payload": {"token.$": "$$.Task.Token", "order.$": "$.order"}}}}})
    first = sfn.start_execution(stateMachineArn=arn, input='{"order": 1}')["executionArn"]
    token = token_of(logs, function, 1)
    wait_for(lambda: "TaskSubmitted" in event_types(sfn, first), message="TaskSubmitted")
    assert sfn.describe_execution(executionArn=first)["status"] == "RUNNING"
    sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output='{"approved": true}')
    done = finished(sfn, first)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"approved": True}
    history = events(sfn, first)
    submitted = next(e for e in history if e["type"] == "TaskSubmitted")["taskSubmittedEventDetails"]
    assert submitted["resource"] == "invoke.waitForTaskToken"
    assert json.loads(submitted["output"])["Payload"] == {"submitted": True}
    scheduled = next(e for e in history if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]
    assert scheduled["heartbeatInSeconds"] == 600 and scheduled["timeoutInSeconds"] == 3600
    # the token is spent: a second answer is too late
    with pytest.raises(ClientError) as excinfo:
        sfn.send_task_success(taskToken=token, output="{}")
    assert excinfo.value.response["Error"]["Code"] == "TaskTimedOut"
    with pytest.raises(ClientError) as excinfo:
        sfn.send_task_success(taskToken="not-a-token", output="{}")
    assert excinfo.value.response["Error"]["Code"] == "InvalidToken"
    with pytest.raises(ClientError) as excinfo:
        sfn.send_task_success(taskToken=token, output="not json")
    assert excinfo.value.response["Error"]["Code"] == "InvalidOutput"

    second = sfn.start_execution(stateMachineArn=arn, input='{"order": 2}')["executionArn"]
    sfn.send_task_failure(taskToken=token_of(logs, function, 2), error="Rejected", cause="no stock")
    done = finished(sfn, second)
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Rejected", "no stock")
    assert "TaskFailed" in event_types(sfn, second)


def test_callback_answered_by_the_function_itself(sfn, lam):
    # the function calls SendTaskSuccess before it returns (the invoke is still in flight)
    function = deploy(lam, """
        import boto3, json

        def handler(event, context):
            boto3.client("stepfunctions").send_task_success(taskToken=event["token"],
                                                            output=json.dumps({"by": "function"}))
            return "sent"
    """)
    arn = machine(sfn, {"StartAt": "Wait", "States": {"Wait": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": True,
        "Parameters": {"FunctionName": function, "Payload": {"token.$": "$$.Task.Token"}}}}})
    done = run(sfn, arn)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"by": "function"}


def test_heartbeat_timeout(sfn, lam):
    function = deploy(lam, "def handler(event, context):\n    return 'ok'\n")
    arn = machine(sfn, {"StartAt": "Wait", "States": {"Wait": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": True,
        "HeartbeatSeconds": 20, "Parameters": {"FunctionName": function, "Payload": {"t.$": "$$.Task.Token"}}}}})
    done = run(sfn, arn)  # 20 workflow seconds = 1 real second
    assert (done["status"], done["error"]) == ("FAILED", "States.HeartbeatTimeout")
    assert "TaskTimedOut" in event_types(sfn, done["executionArn"])


# ---------------------------------------------------------------- nested executions

CHILD = {"StartAt": "Work", "States": {"Work": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"},
                                                "End": True}}}
FAILING_CHILD = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Child.Failed", "Cause": "bad"}}}


def parent(child_arn: str, resource: str, name: str | None = None) -> dict:
    params = {"StateMachineArn": child_arn, "Input": {"n.$": "$.n"}}
    if name:
        params["Name"] = name
    return {"StartAt": "Start", "States": {"Start": {"Type": "Task", "Resource": resource, "End": True,
                                                     "Parameters": params}}}


def test_nested_sync_returns_the_child_output_as_a_string(sfn):
    child = machine(sfn, CHILD)
    done = run(sfn, machine(sfn, parent(child, "arn:aws:states:::states:startExecution.sync")), {"n": 4})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["Status"] == "SUCCEEDED" and output["Output"] == '{"doubled":8}'
    assert output["Input"] == '{"n":4}' and output["StateMachineArn"] == child
    assert isinstance(output["StartDate"], int) and output["StopDate"] >= output["StartDate"]
    assert output["OutputDetails"] == {"Included": True}
    child_execution = output["ExecutionArn"]
    assert sfn.describe_execution(executionArn=child_execution)["status"] == "SUCCEEDED"
    types = event_types(sfn, done["executionArn"])
    assert types[2:5] == ["TaskScheduled", "TaskStarted", "TaskSucceeded"]


def test_nested_sync2_returns_json_and_failures_are_task_failed(sfn):
    child = machine(sfn, CHILD)
    done = run(sfn, machine(sfn, parent(child, "arn:aws:states:::states:startExecution.sync:2")), {"n": 5})
    assert json.loads(done["output"])["Output"] == {"doubled": 10}
    assert json.loads(done["output"])["Input"] == {"n": 5}
    bad = machine(sfn, FAILING_CHILD)
    done = run(sfn, machine(sfn, parent(bad, "arn:aws:states:::states:startExecution.sync:2")), {"n": 1})
    assert (done["status"], done["error"]) == ("FAILED", "States.TaskFailed")
    cause = json.loads(done["cause"])
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "Child.Failed", "bad")


def test_nested_fire_and_forget_and_name_conflicts(sfn):
    child = machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}})
    done = run(sfn, machine(sfn, parent(child, "arn:aws:states:::states:startExecution", name="kid")), {"n": 1})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["ExecutionArn"].endswith(":kid") and isinstance(output["StartDate"], int)
    assert output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert finished(sfn, output["ExecutionArn"])["status"] == "SUCCEEDED"
    # the name of an execution that has ended: StepFunctions.ExecutionAlreadyExistsException
    for data in ({"n": 1}, {"n": 2}):
        done = run(sfn, machine(sfn, parent(child, "arn:aws:states:::states:startExecution", name="kid")), data)
        assert (done["status"], done["error"]) == ("FAILED", "StepFunctions.ExecutionAlreadyExistsException")
        assert "Error Code: ExecutionAlreadyExists" in done["cause"]


def test_nested_callback_from_the_child(sfn):
    # the child answers its parent's token with SendTaskSuccess from an aws-sdk task
    child = machine(sfn, {"StartAt": "Answer", "States": {"Answer": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess", "End": True,
        "Parameters": {"TaskToken.$": "$.token", "Output": "{\"from\": \"child\"}"}}}})
    outer = machine(sfn, {"StartAt": "Start", "States": {"Start": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken", "End": True,
        "Parameters": {"StateMachineArn": child, "Input": {"token.$": "$$.Task.Token"}}}}})
    done = run(sfn, outer)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"from": "child"}


def test_stopping_a_parent_stops_its_sync_child(sfn):
    child = machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100000, "End": True}}})
    outer = machine(sfn, parent(child, "arn:aws:states:::states:startExecution.sync:2", name="stoppable"))
    execution = sfn.start_execution(stateMachineArn=outer, input='{"n": 1}')["executionArn"]
    child_execution = child.replace(":stateMachine:", ":execution:") + ":stoppable"
    wait_for(lambda: _exists(sfn, child_execution), message="the child execution")
    sfn.stop_execution(executionArn=execution)
    assert finished(sfn, child_execution)["status"] == "ABORTED"


def _exists(sfn, execution: str) -> bool:
    try:
        return sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    except ClientError:
        return False


def test_aws_sdk_integration(sfn, lam, echo):
    arn = machine(sfn, {"StartAt": "Get", "States": {"Get": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:getFunction", "End": True,
        "Parameters": {"FunctionName": echo}}}})
    done = run(sfn, arn)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"])["Configuration"]["FunctionName"] == echo
    missing = machine(sfn, {"StartAt": "Get", "States": {"Get": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:getFunction", "End": True,
        "Parameters": {"FunctionName": "nope-" + uuid.uuid4().hex[:6]}}}})
    done = run(sfn, missing)
    assert (done["status"], done["error"]) == ("FAILED", "Lambda.ResourceNotFoundException")
    assert "(Service: Lambda, Status Code: 404, Request ID: " in done["cause"]


# ---------------------------------------------------------------- SQS, SNS, EventBridge


def test_sqs_send_message_and_callback(server, sfn):
    if not served(server, "sqs"):
        unavailable = machine(sfn, {"StartAt": "Send", "States": {"Send": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True,
            "Parameters": {"QueueUrl": "http://localhost/000000000000/q", "MessageBody": "x"}}}})
        done = run(sfn, unavailable)
        assert (done["status"], done["error"]) == ("FAILED", "States.TaskFailed")
        assert "not available" in done["cause"]
        pytest.skip("this build has no SQS provider")
    sqs = server.client("sqs")
    queue = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = machine(sfn, {"StartAt": "Send", "States": {"Send": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True,
        "Parameters": {"QueueUrl": queue, "MessageBody": {"order.$": "$.order"}}}}})
    done = run(sfn, arn, {"order": 9})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["MessageId"] and output["MD5OfMessageBody"] and output["SdkResponseMetadata"]["RequestId"]
    message = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"][0]
    assert json.loads(message["Body"]) == {"order": 9}
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    callback = machine(sfn, {"StartAt": "Send", "States": {"Send": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}}}}})
    execution = sfn.start_execution(stateMachineArn=callback)["executionArn"]
    body = wait_for(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages"))[0]["Body"]
    sfn.send_task_success(taskToken=json.loads(body)["token"], output='"worked"')
    assert json.loads(finished(sfn, execution)["output"]) == "worked"
    missing = machine(sfn, {"StartAt": "Send", "States": {"Send": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True,
        "Parameters": {"QueueUrl": queue + "-missing", "MessageBody": "x"}}}})
    done = run(sfn, missing)
    assert done["status"] == "FAILED" and done["error"].startswith("SQS.")


def test_sns_publish(server, sfn):
    if not served(server, "sns"):
        pytest.skip("this build has no SNS provider")
    sns, sqs = server.client("sns"), server.client("sqs")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    arn = machine(sfn, {"StartAt": "Publish", "States": {"Publish": {
        "Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": True,
        "Parameters": {"TopicArn": topic, "Message": {"hello.$": "$.who"}}}}})
    done = run(sfn, arn, {"who": "world"})
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"])["MessageId"]
    message = wait_for(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages"))[0]
    assert json.loads(message["Body"]) == {"hello": "world"}


def test_eventbridge_put_events(server, sfn):
    if not served(server, "events"):
        pytest.skip("this build has no EventBridge provider")
    arn = machine(sfn, {"StartAt": "Put", "States": {"Put": {
        "Type": "Task", "Resource": "arn:aws:states:::events:putEvents", "End": True,
        "Parameters": {"Entries": [{"Source": "my.app", "DetailType": "order", "Detail": {"id.$": "$.id"}}]}}}})
    done = run(sfn, arn, {"id": 3})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["FailedEntryCount"] == 0 and output["Entries"][0]["EventId"]


# ---------------------------------------------------------------- activities


def test_activity_worker_round_trip(sfn):
    name = f"act-{uuid.uuid4().hex[:8]}"
    created = sfn.create_activity(name=name, tags=[{"key": "team", "value": "ops"}])
    arn = created["activityArn"]
    assert arn == f"arn:aws:states:us-east-1:000000000000:activity:{name}"
    assert sfn.create_activity(name=name)["activityArn"] == arn  # idempotent
    assert sfn.describe_activity(activityArn=arn)["name"] == name
    assert arn in [a["activityArn"] for a in sfn.list_activities()["activities"]]
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "ops"}]
    workflow = machine(sfn, {"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": arn, "HeartbeatSeconds": 600, "End": True,
        "Parameters": {"job.$": "$.job"}}}})
    execution = sfn.start_execution(stateMachineArn=workflow, input='{"job": 7}')["executionArn"]
    task = sfn.get_activity_task(activityArn=arn, workerName="worker-1")
    assert json.loads(task["input"]) == {"job": 7}
    sfn.send_task_heartbeat(taskToken=task["taskToken"])
    sfn.send_task_success(taskToken=task["taskToken"], output='{"done": 7}')
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"done": 7}
    types = event_types(sfn, execution)
    assert types[2:5] == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
    scheduled = next(e for e in events(sfn, execution) if e["type"] == "ActivityScheduled")
    assert scheduled["activityScheduledEventDetails"]["resource"] == arn
    assert scheduled["activityScheduledEventDetails"]["heartbeatInSeconds"] == 600
    sfn.delete_activity(activityArn=arn)
    with pytest.raises(ClientError) as excinfo:
        sfn.describe_activity(activityArn=arn)
    assert excinfo.value.response["Error"] == {"Code": "ActivityDoesNotExist",
                                               "Message": f"Activity Does Not Exist: '{arn}'"}


def test_task_timeout_of_a_slow_function(sfn, lam):
    slow = deploy(lam, """
        import time

        def handler(event, context):
            time.sleep(event.get("sleep", 0))
            return "finished"
    """)
    arn = machine(sfn, {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 20, "End": True,
        "Parameters": {"FunctionName": slow, "Payload.$": "$"}}}})
    done = run(sfn, arn, {"sleep": 3})  # 20 workflow seconds = 1 real second
    assert (done["status"], done["error"]) == ("FAILED", "States.Timeout")
    timed_out = next(e for e in events(sfn, done["executionArn"]) if e["type"] == "TaskTimedOut")
    assert timed_out["taskTimedOutEventDetails"]["error"] == "States.Timeout"
    # the function is still usable afterwards
    assert json.loads(run(sfn, arn, {"sleep": 0})["output"])["Payload"] == "finished"
