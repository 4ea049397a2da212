"""Lambda durable functions (the official Python SDK) on a real ``cumulo serve``.

Measured:

* **steps/s**: a durable handler running 100 ``context.step`` calls in one invocation (each step
  is a CheckpointDurableExecution round trip committed to SQLite), warm;
* **resume after a wait**: from a 1 s wait's scheduled end to the start of the invocation that
  replays past it (from the execution's history);
* **resume after a callback**: from SendDurableExecutionCallbackSuccess to the execution SUCCEEDED;
* **replay overhead**: the duration of an invocation that replays 1,000 completed steps before
  finishing, minus that of one replaying a single step;
* **Step Functions standard**: the same 100 units of work as 100 Pass states of a standard
  (durable) workflow, transitions/s, for comparison.

The SDK is installed from PyPI once into ``~/.cache/cumulo-bench/durable-sdk``.
Run: ``python -m bench.durable_steps [--quick]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench.report import Figure, print_figures
from tests.conftest import make_zip
from tests.integration.test_durable_functions import _sdk_zip
from tests.server import CumuloServer

BENCH = "durable_steps"
ROLE = "arn:aws:iam::000000000000:role/bench"
CACHE = Path.home() / ".cache" / "cumulo-bench" / "durable-sdk"

STEPS = """
from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import Duration

@durable_execution
def handler(event, context):
    total = 0
    for index in range(event["steps"]):
        total += context.step(lambda _, i=index: i, name=f"s{index}")
    if event.get("wait"):
        context.wait(Duration.from_seconds(1), name="pause")
    if event.get("callback"):
        context.create_callback(name="cb").result()
    return total
"""


def _sdk_layer() -> bytes:
    if not (CACHE / "aws_durable_execution_sdk_python").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(CACHE),
                        "aws-durable-execution-sdk-python"], check=True)
    return _sdk_zip(CACHE)


def _events(client, arn: str) -> list[dict]:
    return client.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000)["Events"]


def _all_events(client, arn: str) -> list[dict]:
    events, marker = [], None
    while True:
        page = client.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000,
                                                    **({"Marker": marker} if marker else {}))
        events += page["Events"]
        marker = page.get("NextMarker")
        if not marker:
            return events


def _until_done(client, arn: str) -> dict:
    while (execution := client.get_durable_execution(DurableExecutionArn=arn))["Status"] == "RUNNING":
        time.sleep(0.005)
    return execution


def _invocations(events: list[dict]) -> list[dict]:
    return [e["InvocationCompletedDetails"] for e in events if e["EventType"] == "InvocationCompleted"]


def _sfn_rate(server: CumuloServer, steps: int) -> float:
    states = {f"S{i}": {"Type": "Pass", **({"Next": f"S{i + 1}"} if i < steps - 1 else {"End": True})}
              for i in range(steps)}
    sfn = server.client("stepfunctions")
    arn = sfn.create_state_machine(name="chain", roleArn=ROLE, definition=json.dumps(
        {"StartAt": "S0", "States": states}))["stateMachineArn"]
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
        while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
            time.sleep(0.002)
        rates.append(steps / (time.perf_counter() - started))
    return max(rates)


def run(quick: bool = False) -> list[Figure]:
    layer = _sdk_layer()
    with tempfile.TemporaryDirectory() as tmp:
        server = CumuloServer(Path(tmp) / "data").start(timeout=60)
        try:
            client = server.client("lambda", read_timeout=900)
            layer_arn = client.publish_layer_version(LayerName="sdk", Content={"ZipFile": layer})["LayerVersionArn"]
            client.create_function(FunctionName="durable", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                                   Timeout=900, MemorySize=1024, Layers=[layer_arn],
                                   Code={"ZipFile": make_zip({"app.py": textwrap.dedent(STEPS)})},
                                   DurableConfig={"ExecutionTimeout": 3600})
            client.get_waiter("function_active_v2").wait(FunctionName="durable", WaiterConfig={"Delay": 0.05})
            figures: list[Figure] = []
            # steps per second (warm: the first invoke pays the cold start)
            client.invoke(FunctionName="durable", Payload=json.dumps({"steps": 1}))
            rates = []
            for _ in range(1 if quick else 3):
                started = time.perf_counter()
                response = client.invoke(FunctionName="durable", Payload=json.dumps({"steps": 100}))
                assert "FunctionError" not in response, response["Payload"].read()
                rates.append(100 / (time.perf_counter() - started))
            figures.append(Figure(BENCH, "durable function, 100 steps", round(max(rates), 1), "steps/s",
                                  "sync Invoke, each step checkpointed"))
            # resume after a wait
            lags = []
            for _ in range(1 if quick else 3):
                arn = client.invoke(FunctionName="durable", InvocationType="Event",
                                    Payload=json.dumps({"steps": 1, "wait": True}))["DurableExecutionArn"]
                _until_done(client, arn)
                events = _events(client, arn)
                end = next(e for e in events if e["EventType"] == "WaitStarted")[
                    "WaitStartedDetails"]["ScheduledEndTimestamp"]
                lags.append((_invocations(events)[1]["StartTimestamp"] - end).total_seconds() * 1000)
            figures.append(Figure(BENCH, "resume after a wait", round(min(lags), 1), "ms",
                                  "scheduled end to the replaying invocation's start"))
            # resume after a callback
            lags = []
            for _ in range(1 if quick else 3):
                arn = client.invoke(FunctionName="durable", InvocationType="Event",
                                    Payload=json.dumps({"steps": 1, "callback": True}))["DurableExecutionArn"]
                while len(_invocations(events := _events(client, arn))) < 1:
                    time.sleep(0.01)
                callback_id = next(e for e in events if e["EventType"] == "CallbackStarted")[
                    "CallbackStartedDetails"]["CallbackId"]
                started = time.perf_counter()
                client.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"ok")
                _until_done(client, arn)
                lags.append((time.perf_counter() - started) * 1000)
            figures.append(Figure(BENCH, "resume after a callback", round(min(lags), 1), "ms",
                                  "SendDurableExecutionCallbackSuccess to SUCCEEDED (incl. the replay)"))
            # replay overhead at 1,000 completed operations
            durations = {}
            for steps in (1, 1000):
                arn = client.invoke(FunctionName="durable", InvocationType="Event",
                                    Payload=json.dumps({"steps": steps, "wait": True}))["DurableExecutionArn"]
                _until_done(client, arn)
                replay = _invocations(_all_events(client, arn))[-1]
                durations[steps] = (replay["EndTimestamp"] - replay["StartTimestamp"]).total_seconds() * 1000
            figures.append(Figure(BENCH, "replay of 1,000 completed steps", round(durations[1000] - durations[1], 1),
                                  "ms", f"invocation {durations[1000]:.0f} ms vs {durations[1]:.0f} ms for 1 step"))
            figures.append(Figure(BENCH, "Step Functions standard, 100 Pass states",
                                  round(_sfn_rate(server, 100), 1), "transitions/s", "same server, for comparison"))
            return figures
        finally:
            server.stop()


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
