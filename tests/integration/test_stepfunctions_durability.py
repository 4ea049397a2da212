"""Standard executions survive ``kill -9`` of the server and continue where they were.

One execution is in the middle of a one-hour Wait, another is waiting for a task token; both
already ran a Lambda task. The server is killed with SIGKILL and started again on the same data
directory: the Wait finishes at its original deadline, the token is still valid, both executions
succeed, and no completed task runs twice. Workflow time runs 500x faster here (an hour takes
7.2 s), on a clock whose origin is stored with the data so that it keeps going across restarts.
"""

from __future__ import annotations

import json
import signal
import textwrap
import uuid

import pytest

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/sfn-role"
FAST = {"CUMULO_STATES_CLOCK_SCALE": "0.002"}

# Every invocation leaves durable marks before returning: a log stream named after its input (the
# same name twice fails the invocation) and one log stream per invocation, to count them.
MARKER = """
import uuid
import boto3

def handler(event, context):
    logs = boto3.client("logs")
    logs.create_log_stream(logGroupName=event["group"] + "-runs", logStreamName=str(uuid.uuid4()))
    if not event.get("tolerant"):
        logs.create_log_stream(logGroupName=event["group"], logStreamName=event["mark"])
    else:
        try:
            logs.create_log_stream(logGroupName=event["group"], logStreamName=event["mark"])
        except logs.exceptions.ResourceAlreadyExistsException:
            pass  # the task that was in flight when the server was killed runs again
    return {"marked": event["mark"]}
"""


def deploy(lam, code: str) -> str:
    name = f"fn-{uuid.uuid4().hex[:10]}"
    lam.create_function(FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/l",
                        Handler="app.handler", Timeout=30,
                        Code={"ZipFile": make_zip({"app.py": textwrap.dedent(code).lstrip()})})
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    return name


def types(sfn, execution: str) -> list[str]:
    return [e["type"] for e in sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]]


def marks(logs, group: str) -> list[str]:
    return sorted(s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"])


def test_kill_9_resumes_a_long_wait_and_a_task_token_wait(tmp_path):
    data = tmp_path / "data"
    first = CumuloServer(data, env=FAST).start()
    try:
        sfn = first.client("stepfunctions", read_timeout=60)
        lam, logs = first.client("lambda", read_timeout=60), first.client("logs")
        function = deploy(lam, MARKER)
        group = f"/marks/{uuid.uuid4().hex[:8]}"
        logs.create_log_group(logGroupName=group)
        logs.create_log_group(logGroupName=group + "-runs")
        mark = {"FunctionName": function, "Payload": {"group": group, "mark.$": "$.mark"}}
        waiting = sfn.create_state_machine(name="waits", roleArn=ROLE, definition=json.dumps({
            "StartAt": "Before", "States": {
                "Before": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": mark,
                           "ResultSelector": {"first.$": "$.Payload.marked"}, "ResultPath": "$.before",
                           "Next": "Hour"},
                "Hour": {"Type": "Wait", "Seconds": 3600, "Next": "Id"},
                "Id": {"Type": "Pass", "Parameters": {"id.$": "States.UUID()", "before.$": "$.before"},
                       "End": True}}}))["stateMachineArn"]
        callback = sfn.create_state_machine(name="callback", roleArn=ROLE, definition=json.dumps({
            "StartAt": "Before", "States": {
                "Before": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": mark,
                           "ResultPath": None, "Next": "Approval"},
                "Approval": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                             "Parameters": {"FunctionName": function, "Payload": {
                                 "group": group, "mark.$": "$$.Task.Token"}},
                             "ResultPath": "$.approval", "End": True}}}))["stateMachineArn"]
        in_wait = sfn.start_execution(stateMachineArn=waiting, name="in-wait", input='{"mark": "wait-task"}')
        in_token = sfn.start_execution(stateMachineArn=callback, name="in-token", input='{"mark": "token-task"}')
        wait_for(lambda: "WaitStateEntered" in types(sfn, in_wait["executionArn"]), timeout=30,
                 message="the first execution to enter its Wait")
        wait_for(lambda: "TaskSubmitted" in types(sfn, in_token["executionArn"]), timeout=30,
                 message="the second execution to submit its callback task")
        before_kill = {arn: types(sfn, arn) for arn in (in_wait["executionArn"], in_token["executionArn"])}
        assert before_kill[in_wait["executionArn"]][-1] == "WaitStateEntered"
        assert sfn.describe_execution(executionArn=in_wait["executionArn"])["status"] == "RUNNING"
    finally:
        first.stop(signal.SIGKILL)

    second = CumuloServer(data, env=FAST).start()
    try:
        sfn = second.client("stepfunctions", read_timeout=60)
        logs = second.client("logs")
        still_waiting = types(sfn, in_wait["executionArn"])[-1] == "WaitStateEntered"
        # the token was handed out before the kill; it is still the one the execution waits for
        streams = marks(logs, group)
        token = next(s for s in streams if s not in ("wait-task", "token-task"))
        sfn.send_task_success(taskToken=token, output='{"approved": true}')

        def done(arn: str) -> dict:
            return wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                            timeout=60, message=f"{arn} to finish after the restart")

        token_done = done(in_token["executionArn"])
        assert token_done["status"] == "SUCCEEDED", token_done
        assert json.loads(token_done["output"])["approval"] == {"approved": True}
        wait_done = done(in_wait["executionArn"])
        assert wait_done["status"] == "SUCCEEDED", wait_done
        assert json.loads(wait_done["output"])["before"] == {"first": "wait-task"}
        # the Wait ended at its original deadline: one hour of workflow time after it began
        wait_history = sfn.get_execution_history(executionArn=in_wait["executionArn"])["events"]
        entered = next(e for e in wait_history if e["type"] == "WaitStateEntered")["timestamp"]
        exited = next(e for e in wait_history if e["type"] == "WaitStateExited")["timestamp"]
        waited = (exited - entered).total_seconds()
        assert waited >= 3600
        if still_waiting:  # resumed before the deadline: it ends at the deadline, not an hour later
            assert waited < 3600 + 300, waited
        # nothing that completed ran again: one mark per task, the callback's token once
        assert marks(logs, group) == sorted(["wait-task", "token-task", token])
        assert len(marks(logs, group + "-runs")) == 3
        for arn, old in before_kill.items():
            history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            assert [e["type"] for e in history][:len(old)] == old
            ids = [e["id"] for e in history]
            assert ids == list(range(1, len(ids) + 1))
            assert [e["type"] for e in history].count("TaskScheduled") == (1 if arn == in_wait["executionArn"] else 2)
    finally:
        second.stop()


@pytest.mark.parametrize("scale", ["0.001"])
def test_kill_9_during_a_map_of_tasks_finishes_every_item_once(tmp_path, scale):
    """A Map of Lambda tasks interrupted half-way: items finished before the kill are not redone."""
    data = tmp_path / "data"
    env = {"CUMULO_STATES_CLOCK_SCALE": scale}
    first = CumuloServer(data, env=env).start()
    try:
        sfn = first.client("stepfunctions", read_timeout=60)
        lam, logs = first.client("lambda", read_timeout=60), first.client("logs")
        function = deploy(lam, MARKER)
        group = f"/marks/{uuid.uuid4().hex[:8]}"
        logs.create_log_group(logGroupName=group)
        logs.create_log_group(logGroupName=group + "-runs")
        arn = sfn.create_state_machine(name="fan", roleArn=ROLE, definition=json.dumps({
            "StartAt": "Fan", "States": {"Fan": {
                "Type": "Map", "MaxConcurrency": 1, "End": True, "ItemProcessor": {
                    "StartAt": "Mark", "States": {
                        "Mark": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Pause",
                                 "Parameters": {"FunctionName": function,
                                                "Payload": {"group": group, "mark.$": "$",
                                                            "tolerant": True}},
                                 "OutputPath": "$.Payload"},
                        "Pause": {"Type": "Wait", "Seconds": 600, "End": True}}}}}}))["stateMachineArn"]
        items = [f"item-{i}" for i in range(6)]
        execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(items))["executionArn"]
        wait_for(lambda: len(marks(logs, group)) >= 2, timeout=30, message="two items to be processed")
    finally:
        first.stop(signal.SIGKILL)
    second = CumuloServer(data, env=env).start()
    try:
        sfn, logs = second.client("stepfunctions"), second.client("logs")
        done = wait_for(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
                        timeout=60, message="the map to finish")
        assert done["status"] == "SUCCEEDED", done
        assert json.loads(done["output"]) == [{"marked": item} for item in items]
        assert marks(logs, group) == sorted(items)
        # at most the one task in flight at the kill ran twice (at-least-once, as on AWS)
        assert len(items) <= len(marks(logs, group + "-runs")) <= len(items) + 1
    finally:
        second.stop()


def test_an_accepted_express_execution_runs_again_after_kill_9(tmp_path):
    """Asynchronous express executions are at least once: accepted means recorded first."""
    data = tmp_path / "data"
    first = CumuloServer(data, env=FAST).start()
    group = f"/aws/vendedlogs/states/{uuid.uuid4().hex[:8]}"
    try:
        sfn, logs = first.client("stepfunctions"), first.client("logs")
        logs.create_log_group(logGroupName=group)
        arn = sfn.create_state_machine(
            name="express", roleArn=ROLE, type="EXPRESS", definition=json.dumps({
                "StartAt": "Long", "States": {"Long": {"Type": "Wait", "Seconds": 600, "End": True}}}),
            loggingConfiguration={"level": "ALL", "includeExecutionData": True, "destinations": [
                {"cloudWatchLogsLogGroup": {
                    "logGroupArn": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:*"}}]},
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, input='{"n": 1}')["executionArn"]
    finally:
        first.stop(signal.SIGKILL)
    second = CumuloServer(data, env=FAST).start()
    try:
        logs = second.client("logs")

        def succeeded() -> list[dict]:
            events = [json.loads(e["message"]) for e in logs.filter_log_events(logGroupName=group)["events"]]
            return [e for e in events if e["type"] == "ExecutionSucceeded" and e["execution_arn"] == execution]

        assert wait_for(succeeded, timeout=60, message="the express execution to run after the restart")
    finally:
        second.stop()


def test_kill_9_while_a_parent_waits_for_its_sync_child(tmp_path):
    """The parent's startExecution.sync task is replayed after the restart: it finds the child it
    started (named after the parent and the task) instead of starting a second one."""
    data = tmp_path / "data"
    first = CumuloServer(data, env=FAST).start()
    try:
        sfn = first.client("stepfunctions")
        child = sfn.create_state_machine(name="child", roleArn=ROLE, definition=json.dumps({
            "StartAt": "Long", "States": {"Long": {"Type": "Wait", "Seconds": 1800, "End": True}}}))["stateMachineArn"]
        parent = sfn.create_state_machine(name="parent", roleArn=ROLE, definition=json.dumps({
            "StartAt": "Run", "States": {"Run": {
                "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "End": True,
                "Parameters": {"StateMachineArn": child, "Input": {"from": "parent"}}}}}))["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=parent)["executionArn"]
        wait_for(lambda: sfn.list_executions(stateMachineArn=child)["executions"], timeout=30,
                 message="the child execution")
    finally:
        first.stop(signal.SIGKILL)
    second = CumuloServer(data, env=FAST).start()
    try:
        sfn = second.client("stepfunctions")
        done = wait_for(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
                        timeout=60, message="the parent to finish")
        assert done["status"] == "SUCCEEDED", done
        children = sfn.list_executions(stateMachineArn=child)["executions"]
        assert len(children) == 1 and children[0]["status"] == "SUCCEEDED"
        assert json.loads(done["output"])["ExecutionArn"] == children[0]["executionArn"]
    finally:
        second.stop()
