"""Lambda durable functions run with AWS's official Python SDK (from PyPI) against a real server.

The SDK is installed once per test session (``pip install --target``) and published as a layer
in each server; handlers are plain SDK code. Every test asserts what a user sees through boto3:
the invoke result, GetDurableExecution, the history, callbacks and the list API.
"""

from __future__ import annotations

import io
import json
import os
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


@pytest.fixture(scope="session")
def sdk_layer_zip(tmp_path_factory) -> bytes:
    target = tmp_path_factory.mktemp("durable-sdk")
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target), SDK],
                             capture_output=True, text=True, timeout=600)
    if install.returncode != 0:
        pytest.skip(f"{SDK} could not be installed from PyPI: {install.stderr[-400:]}")
    return _sdk_zip(target)


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
