"""Lambda durable functions run with AWS's official Python SDK (from PyPI) against a real server.

The SDKs are installed once (``pip install --target``, ``npm install``; kept in
~/.cache/cumulo-tests) and published as layers
in each server; handlers are plain SDK code. Every test asserts what a user sees through boto3:
the invoke result, GetDurableExecution, the history, callbacks and the list API.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/r"
SDK = "aws-durable-execution-sdk-python"
CACHE = Path.home() / ".cache" / "cumulo-tests"


def _sdk_zip(target: Path) -> bytes:
    """The SDK and its dependencies as a layer (python/...); of botocore's models only Lambda's."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path in sorted(target.rglob("*")):
            relative = path.relative_to(target)
            parts = relative.parts
            if path.is_dir() or "__pycache__" in parts or parts[0] == "bin":
                continue
            if parts[:2] == ("botocore", "data") and len(parts) > 3 and parts[2] not in ("lambda", "sts"):
                continue
            archive.write(path, str(Path("python") / relative))
    return buffer.getvalue()


def _cached_install(name: str, command: list[str], tmp_path_factory) -> Path:
    """Run ``command`` in a fresh folder once, then keep the folder in ~/.cache/cumulo-tests/<name>
    (moved there whole, so parallel workers never see half an install); later sessions reuse it."""
    cached = CACHE / name
    if cached.exists():
        return cached
    target = tmp_path_factory.mktemp(name)
    try:
        install = subprocess.run(command, cwd=target, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"{name} could not be installed: {exc}")
    if install.returncode != 0:
        pytest.skip(f"{name} could not be installed: {install.stderr[-400:]}")
    CACHE.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # another worker may have got there first
        target.rename(cached)
    return cached if cached.exists() else target


@pytest.fixture(scope="session")
def sdk_layer_zip(tmp_path_factory) -> bytes:
    return _sdk_zip(_cached_install("durable-sdk-python", [
        sys.executable, "-m", "pip", "install", "-q", "--target", ".", SDK], tmp_path_factory))


@pytest.fixture(scope="module")
def server(tmp_path_factory, sdk_layer_zip):
    srv = CumuloServer(tmp_path_factory.mktemp("durable") / "data").start()
    srv.layer_arn = srv.client("lambda").publish_layer_version(
        LayerName="durable-sdk", Content={"ZipFile": sdk_layer_zip},
        CompatibleRuntimes=["python3.11", "python3.12", "python3.13"])["LayerVersionArn"]
    yield srv
    srv.stop()


def deploy(server: CumuloServer, name: str, code: str, durable: dict | None = None, timeout: int = 30) -> None:
    client = server.client("lambda")
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Timeout=timeout,
        Code={"ZipFile": make_zip({"app.py": textwrap.dedent(code)})}, Layers=[server.layer_arn],
        DurableConfig=durable if durable is not None else {"ExecutionTimeout": 3600, "RetentionPeriodInDays": 1})
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})


def history(server: CumuloServer, arn: str) -> list[dict]:
    return server.client("lambda").get_durable_execution_history(
        DurableExecutionArn=arn, IncludeExecutionData=True)["Events"]


def finished(server: CumuloServer, arn: str, timeout: float = 60) -> dict:
    client = server.client("lambda")
    return wait_for(lambda: (lambda e: e if e["Status"] != "RUNNING" else None)(
        client.get_durable_execution(DurableExecutionArn=arn)), timeout=timeout, interval=0.1,
        message=f"durable execution {arn} to finish")


STEPS_AND_WAIT = """
    from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution, durable_step
    from aws_durable_execution_sdk_python.config import Duration

    @durable_step
    def add(step_context: StepContext, a: int, b: int) -> int:
        return a + b

    @durable_execution
    def handler(event, context: DurableContext):
        first = context.step(add(event["a"], event["b"]), name="first")
        context.wait(Duration.from_seconds(1), name="pause")
        second = context.step(add(first, 10), name="second")
        return {"sum": second}
"""


def test_steps_and_a_wait_run_to_completion_with_aws_history(server):
    deploy(server, "steps", STEPS_AND_WAIT)
    client = server.client("lambda")
    started = time.time()
    response = client.invoke(FunctionName="steps", Payload=json.dumps({"a": 1, "b": 2}))
    assert time.time() - started >= 1  # the wait really suspended the execution
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"sum": 13}
    arn = response["DurableExecutionArn"]
    assert ":function:steps:$LATEST/durable-execution/" in arn
    execution = client.get_durable_execution(DurableExecutionArn=arn)
    assert execution["Status"] == "SUCCEEDED"
    assert json.loads(execution["Result"]) == {"sum": 13}
    assert json.loads(execution["InputPayload"]) == {"a": 1, "b": 2}
    events = history(server, arn)
    types = [e["EventType"] for e in events]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert types.count("InvocationCompleted") == 2  # suspended once at the wait, replayed once
    steps = [(e["EventType"], e.get("Name")) for e in events if e["EventType"].startswith(("Step", "Wait"))]
    assert steps == [("StepStarted", "first"), ("StepSucceeded", "first"), ("WaitStarted", "pause"),
                     ("WaitSucceeded", "pause"), ("StepStarted", "second"), ("StepSucceeded", "second")]
    succeeded = next(e for e in events if e["EventType"] == "StepSucceeded")
    assert json.loads(succeeded["StepSucceededDetails"]["Result"]["Payload"]) == 3
    assert [e["EventId"] for e in events] == list(range(1, len(events) + 1))
    listed = client.list_durable_executions_by_function(FunctionName="steps")["DurableExecutions"]
    assert [x["DurableExecutionArn"] for x in listed] == [arn]


CALLBACK = """
    from aws_durable_execution_sdk_python import DurableContext, durable_execution
    from aws_durable_execution_sdk_python.config import CallbackConfig, Duration

    @durable_execution
    def handler(event, context: DurableContext):
        callback = context.create_callback(name="approval", config=CallbackConfig(
            timeout=Duration.from_seconds(event["timeout"]),
            heartbeat_timeout=Duration.from_seconds(event["heartbeat"])))
        return {"approved": callback.result()}
"""


def _callback_id(server: CumuloServer, arn: str) -> str:
    started = wait_for(lambda: [e for e in history(server, arn) if e["EventType"] == "CallbackStarted"],
                       timeout=60, interval=0.1, message="the callback to start")
    return started[0]["CallbackStartedDetails"]["CallbackId"]


def _suspended(server: CumuloServer, arn: str) -> None:
    """Wait until the handler has answered PENDING (its invocation is over; only a timer or a
    callback can move the execution on)."""
    wait_for(lambda: any(e["EventType"] == "InvocationCompleted" for e in history(server, arn)),
             timeout=60, interval=0.1, message="the execution to suspend")


def _start(server: CumuloServer, function: str, payload: dict, name: str | None = None) -> str:
    extra = {"DurableExecutionName": name} if name else {}
    response = server.client("lambda").invoke(FunctionName=function, InvocationType="Event",
                                              Payload=json.dumps(payload), **extra)
    assert response["StatusCode"] == 202
    return response["DurableExecutionArn"]


def test_callback_success_failure_timeout_and_heartbeat(server):
    deploy(server, "approve", CALLBACK)
    client = server.client("lambda")
    # success: the result is what the external system sent
    arn = _start(server, "approve", {"timeout": 60, "heartbeat": 0})
    callback_id = _callback_id(server, arn)
    assert client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    client.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"yes")
    execution = finished(server, arn)  # the handler gets the result as sent (the SDK's default serdes)
    assert execution["Status"] == "SUCCEEDED" and json.loads(execution["Result"]) == {"approved": "yes"}
    assert "CallbackSucceeded" in [e["EventType"] for e in history(server, arn)]
    with pytest.raises(ClientError) as again:  # a completed callback cannot complete twice
        client.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'"again"')
    assert again.value.response["Error"]["Code"] == "InvalidParameterValueException"
    # failure: the execution fails with the error sent
    arn = _start(server, "approve", {"timeout": 60, "heartbeat": 0})
    client.send_durable_execution_callback_failure(CallbackId=_callback_id(server, arn), Error={
        "ErrorType": "Rejected", "ErrorMessage": "manager said no"})
    execution = finished(server, arn)
    assert execution["Status"] == "FAILED" and "manager said no" in execution["Error"]["ErrorMessage"]
    assert "CallbackFailed" in [e["EventType"] for e in history(server, arn)]
    # heartbeats keep a callback alive past its heartbeat timeout; without them it times out
    arn = _start(server, "approve", {"timeout": 60, "heartbeat": 2})
    callback_id = _callback_id(server, arn)
    for _ in range(3):
        time.sleep(1)  # the heartbeats of an external worker, one a second
        client.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
    assert client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    execution = finished(server, arn)
    assert execution["Status"] == "FAILED"
    assert "CallbackTimedOut" in [e["EventType"] for e in history(server, arn)]
    with pytest.raises(ClientError) as late:
        client.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'"late"')
    assert late.value.response["Error"]["Code"] == "CallbackTimeoutException"


RETRIES = """
    from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
    from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig
    from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

    @durable_execution
    def handler(event, context: DurableContext):
        def flaky(step_context: StepContext):
            if step_context.attempt < event["succeed_on"]:
                raise RuntimeError(f"attempt {step_context.attempt} failed")
            return step_context.attempt
        strategy = create_retry_strategy(RetryStrategyConfig(
            max_attempts=3, initial_delay=Duration.from_seconds(1), jitter_strategy=JitterStrategy.NONE))
        return context.step(flaky, name="flaky", config=StepConfig(retry_strategy=strategy))
"""


def test_step_retries_then_succeeds_or_exhausts_its_attempts(server):
    deploy(server, "flaky", RETRIES)
    client = server.client("lambda")
    ok = client.invoke(FunctionName="flaky", Payload=json.dumps({"succeed_on": 3}))
    assert "FunctionError" not in ok and json.loads(ok["Payload"].read()) == 3
    events = history(server, ok["DurableExecutionArn"])
    failed = [e for e in events if e["EventType"] == "StepFailed"]
    assert [e["StepFailedDetails"]["RetryDetails"]["CurrentAttempt"] for e in failed] == [1, 2]
    assert all("attempt" in e["StepFailedDetails"]["Error"]["Payload"]["ErrorMessage"] for e in failed)
    assert [e["EventType"] for e in events].count("StepSucceeded") == 1
    exhausted = client.invoke(FunctionName="flaky", Payload=json.dumps({"succeed_on": 99}))
    assert exhausted["FunctionError"] == "Unhandled"
    assert "attempt 3 failed" in json.loads(exhausted["Payload"].read())["errorMessage"]
    execution = client.get_durable_execution(DurableExecutionArn=exhausted["DurableExecutionArn"])
    assert execution["Status"] == "FAILED"


COMPOSITE = """
    from aws_durable_execution_sdk_python import DurableContext, durable_execution
    from aws_durable_execution_sdk_python.config import CompletionConfig, Duration, MapConfig
    from aws_durable_execution_sdk_python.waits import (
        WaitForConditionConfig, WaitForConditionDecision)

    @durable_execution
    def handler(event, context: DurableContext):
        squares = context.map(event["items"], lambda ctx, item, index, items: ctx.step(
            lambda _: item * item, name=f"square-{index}"), name="squares",
            config=MapConfig(max_concurrency=2))
        branches = context.parallel([lambda ctx: ctx.step(lambda _: "left", name="l"),
                                     lambda ctx: ctx.step(lambda _: "right", name="r")], name="both")
        def child(ctx: DurableContext):
            ctx.wait(Duration.from_seconds(1), name="inner-wait")
            return ctx.step(lambda _: "from child", name="inner-step")
        nested = context.run_in_child_context(child, name="child")
        polled = context.wait_for_condition(
            lambda state, check: state + 1,
            config=WaitForConditionConfig(
                initial_state=0,
                wait_strategy=lambda state, attempt: WaitForConditionDecision.stop_polling() if state >= 3
                else WaitForConditionDecision.continue_waiting(Duration.from_seconds(1))),
            name="poll")
        called = context.invoke("plain", {"x": 2}, name="call-plain")
        return {"squares": squares.get_results(), "branches": branches.get_results(), "child": nested,
                "polled": polled, "called": called}
"""

PLAIN = """
def handler(event, context):
    return {"doubled": event["x"] * 2}
"""


def test_map_parallel_child_context_wait_for_condition_and_chained_invoke(server):
    client = server.client("lambda")
    client.create_function(FunctionName="plain", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": PLAIN})})
    client.get_waiter("function_active_v2").wait(FunctionName="plain", WaiterConfig={"Delay": 0.05})
    deploy(server, "composite", COMPOSITE)
    response = client.invoke(FunctionName="composite", Payload=json.dumps({"items": [1, 2, 3, 4]}))
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    assert body == {"squares": [1, 4, 9, 16], "branches": ["left", "right"], "child": "from child",
                    "polled": 3, "called": {"doubled": 4}}
    events = history(server, response["DurableExecutionArn"])
    contexts = {(e.get("Name"), e.get("SubType")) for e in events if e["EventType"] == "ContextSucceeded"}
    assert {("squares", "Map"), ("both", "Parallel"), ("child", "RunInChildContext")} <= contexts
    types = [e["EventType"] for e in events]
    assert "ChainedInvokeStarted" in types and "ChainedInvokeSucceeded" in types
    map_items = [e for e in events if e["EventType"] == "StepSucceeded" and e.get("Name", "").startswith("square")]
    assert len(map_items) == 4 and all(e.get("ParentId") for e in map_items)


def test_idempotent_start_by_name_and_errors(server):
    deploy(server, "named", STEPS_AND_WAIT)
    client = server.client("lambda")
    first = _start(server, "named", {"a": 1, "b": 1}, name="order-1")
    assert _start(server, "named", {"a": 1, "b": 1}, name="order-1") == first
    with pytest.raises(ClientError) as conflict:
        _start(server, "named", {"a": 5, "b": 5}, name="order-1")
    assert conflict.value.response["Error"]["Code"] == "DurableExecutionAlreadyStartedException"
    assert finished(server, first)["Status"] == "SUCCEEDED"
    listed = client.list_durable_executions_by_function(FunctionName="named", DurableExecutionName="order-1",
                                                        Statuses=["SUCCEEDED"])["DurableExecutions"]
    assert [x["DurableExecutionArn"] for x in listed] == [first]
    with pytest.raises(ClientError) as token:
        client.checkpoint_durable_execution(DurableExecutionArn=first, CheckpointToken="bm90LWEtdG9rZW4=",
                                            Updates=[])
    assert token.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as missing:
        client.get_durable_execution(DurableExecutionArn=first.rsplit("/", 1)[0] + "/nope")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as bad:
        client.create_function(FunctionName="bad", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                               Code={"ZipFile": make_zip({"app.py": PLAIN})},
                               DurableConfig={"ExecutionTimeout": 60, "RetentionPeriodInDays": 91})
    assert bad.value.response["Error"]["Code"] in ("ValidationException", "InvalidParameterValueException")
    config = client.get_function_configuration(FunctionName="named")
    assert config["DurableConfig"] == {"ExecutionTimeout": 3600, "RetentionPeriodInDays": 1}


def test_stop_a_suspended_execution(server):
    deploy(server, "stoppable", CALLBACK)
    client = server.client("lambda")
    arn = _start(server, "stoppable", {"timeout": 600, "heartbeat": 0})
    _suspended(server, arn)
    client.stop_durable_execution(DurableExecutionArn=arn, Error={"ErrorType": "Cancelled",
                                                                  "ErrorMessage": "no longer needed"})
    execution = client.get_durable_execution(DurableExecutionArn=arn)
    assert execution["Status"] == "STOPPED"
    assert history(server, arn)[-1]["EventType"] == "ExecutionStopped"
    with pytest.raises(ClientError) as again:
        client.stop_durable_execution(DurableExecutionArn=arn)
    assert again.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_suspended_executions_survive_kill_9(tmp_path, sdk_layer_zip):
    first = CumuloServer(tmp_path / "data").start()
    try:
        first.layer_arn = first.client("lambda").publish_layer_version(
            LayerName="durable-sdk", Content={"ZipFile": sdk_layer_zip})["LayerVersionArn"]
        deploy(first, "survivor", STEPS_AND_WAIT.replace("from_seconds(1)", "from_seconds(3)"))
        deploy(first, "waiter", CALLBACK)
        timed = _start(first, "survivor", {"a": 2, "b": 3})
        waiting = _start(first, "waiter", {"timeout": 600, "heartbeat": 0})
        callback_id = _callback_id(first, waiting)
        _suspended(first, timed)
        _suspended(first, waiting)
    finally:
        first.stop(signal.SIGKILL)  # both executions are suspended: one on a timer, one on a callback
    second = CumuloServer(tmp_path / "data").start()
    try:
        client = second.client("lambda")
        execution = finished(second, timed)  # the timer fires in the new process
        assert execution["Status"] == "SUCCEEDED" and json.loads(execution["Result"]) == {"sum": 15}
        client.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"after restart")
        execution = finished(second, waiting)
        assert json.loads(execution["Result"]) == {"approved": "after restart"}
        types = [e["EventType"] for e in history(second, timed)]
        assert types.count("StepSucceeded") == 2 and types[-1] == "ExecutionSucceeded"
    finally:
        second.stop()


SAM_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  SdkLayer:
    Type: String
Resources:
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: sam-durable
      Runtime: python3.12
      Handler: index.handler
      Timeout: 30
      Layers: [!Ref SdkLayer]
      DurableConfig:
        ExecutionTimeout: 900
        RetentionPeriodInDays: 7
      InlineCode: |
{code}
"""


def test_sam_template_with_durable_config_deploys_and_runs(server):
    code = textwrap.indent(textwrap.dedent(STEPS_AND_WAIT), " " * 8)
    cloudformation = server.client("cloudformation")
    cloudformation.create_stack(StackName="durable-sam", TemplateBody=SAM_TEMPLATE.format(code=code),
                                Parameters=[{"ParameterKey": "SdkLayer", "ParameterValue": server.layer_arn}],
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName="durable-sam",
                                                            WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
    client = server.client("lambda")
    config = client.get_function_configuration(FunctionName="sam-durable")
    assert config["DurableConfig"] == {"ExecutionTimeout": 900, "RetentionPeriodInDays": 7}
    response = client.invoke(FunctionName="sam-durable", Payload=json.dumps({"a": 20, "b": 1}))
    assert json.loads(response["Payload"].read()) == {"sum": 31}


NODE_SDK = "@aws/durable-execution-sdk-js@2"
NODE_HANDLER = """
const { withDurableExecution } = require("@aws/durable-execution-sdk-js");
exports.handler = withDurableExecution(async (event, context) => {
  const sum = await context.step("first", async () => event.a + event.b);
  await context.wait({ seconds: 1 });
  const approved = await context.waitForCallback("approval", async (callbackId) => {
    await context.logger.info(`callback ${callbackId}`);
  });
  return { sum: await context.step("second", async () => sum + 10), approved };
});
"""


@pytest.fixture(scope="session")
def node_layer_zip(tmp_path_factory) -> bytes:
    target = _cached_install("durable-sdk-js", ["npm", "install", "--no-audit", "--no-fund", "--silent", NODE_SDK],
                             tmp_path_factory)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path in sorted((target / "node_modules").rglob("*")):
            if path.is_file():
                archive.write(path, str(Path("nodejs") / path.relative_to(target)))
    return buffer.getvalue()


def test_node_sdk_step_wait_and_callback(server, node_layer_zip):
    client = server.client("lambda")
    layer = client.publish_layer_version(LayerName="durable-sdk-js", Content={"ZipFile": node_layer_zip})
    client.create_function(
        FunctionName="node-durable", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler", Timeout=30,
        Code={"ZipFile": make_zip({"index.js": NODE_HANDLER})}, Layers=[layer["LayerVersionArn"]],
        DurableConfig={"ExecutionTimeout": 600})  # (the JavaScript SDK needs HOME: environments have it)
    client.get_waiter("function_active_v2").wait(FunctionName="node-durable", WaiterConfig={"Delay": 0.05})
    arn = _start(server, "node-durable", {"a": 1, "b": 2})
    client.send_durable_execution_callback_success(CallbackId=_callback_id(server, arn), Result=b"yes")
    execution = finished(server, arn)
    assert execution["Status"] == "SUCCEEDED", execution.get("Error")
    assert json.loads(execution["Result"]) == {"sum": 13, "approved": "yes"}
    events = history(server, arn)
    named = [(e["EventType"], e.get("Name")) for e in events if e["EventType"].startswith(("Step", "Callback"))]
    assert ("StepSucceeded", "first") in named and ("StepSucceeded", "second") in named
    assert "CallbackSucceeded" in [e["EventType"] for e in events]
    assert "WaitSucceeded" in [e["EventType"] for e in events]


def test_durable_config_without_the_sdk_and_names_on_plain_functions_fail_clearly(server):
    client = server.client("lambda")
    plain_answer = "def handler(event, context):\n    return {'ok': True}\n"
    client.create_function(FunctionName="no-sdk", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": plain_answer})}, DurableConfig={"ExecutionTimeout": 60})
    client.create_function(FunctionName="not-durable", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": PLAIN})})
    for name in ("no-sdk", "not-durable"):
        client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    response = client.invoke(FunctionName="no-sdk", Payload=json.dumps({"x": 1}))
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "Runtime.InvalidResponse"
    with pytest.raises(ClientError) as named:
        client.invoke(FunctionName="not-durable", Payload=b"{}", DurableExecutionName="x")
    assert named.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as late:
        client.update_function_configuration(FunctionName="not-durable", DurableConfig={"ExecutionTimeout": 60})
    assert late.value.response["Error"]["Code"] == "InvalidParameterValueException"
