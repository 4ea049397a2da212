"""Invoking real functions through the Lambda API: runtimes, errors, limits, logs, concurrency."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("invoke") / "data",
                            env={"CUMULO_RETRY_DELAY_SCALE": "0.005"}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def client(server):
    return server.client("lambda", read_timeout=70)


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs")


def deploy(client, files: dict[str, str], runtime: str = "python3.11", handler: str = "app.handler",
           name: str | None = None, **config) -> str:
    name = name or f"fn-{uuid.uuid4().hex[:10]}"
    config.setdefault("Timeout", 30)  # generous: only the timeout test relies on a short one
    code = make_zip({path: textwrap.dedent(text).lstrip("\n") for path, text in files.items()})
    client.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                           Code={"ZipFile": code}, **config)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    return name


def invoke(client, name: str, event: object = None, **kwargs) -> tuple[dict, object]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}), **kwargs)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


def log_messages(logs, name: str) -> list[str]:
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [e["message"] for e in events]


CONTEXT_HANDLER = """
    import os
    COUNT = 0

    def handler(event, context):
        global COUNT
        COUNT += 1
        keys = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                "AWS_REGION", "AWS_DEFAULT_REGION", "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_EXECUTION_ENV",
                "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ENDPOINT_URL", "STAGE",
                "AWS_LAMBDA_RUNTIME_API", "AWS_ACCESS_KEY_ID", "_X_AMZN_TRACE_ID", "TZ"]
        return {
            "event": event,
            "count": COUNT,
            "env": {k: os.environ.get(k) for k in keys},
            "context": {
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "aws_request_id": context.aws_request_id,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "remaining": context.get_remaining_time_in_millis(),
                "client_context": context.client_context.custom if context.client_context else None,
            },
            "cwd_files": sorted(os.listdir(os.environ["LAMBDA_TASK_ROOT"])),
        }
"""


def test_python_context_environment_and_warm_reuse(client, server):
    name = deploy(client, {"app.py": CONTEXT_HANDLER}, MemorySize=256, Timeout=7,
                  Environment={"Variables": {"STAGE": "test"}})
    client_context = base64.b64encode(json.dumps({"custom": {"user": "ann"}}).encode()).decode()
    response, result = invoke(client, name, {"order": 7}, ClientContext=client_context)
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert result["event"] == {"order": 7}
    context = result["context"]
    assert context["function_name"] == name
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert context["memory_limit_in_mb"] in (256, "256")
    assert context["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert context["log_group_name"] == f"/aws/lambda/{name}"
    assert 0 < context["remaining"] <= 7000
    assert context["client_context"] == {"user": "ann"}
    env = result["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["STAGE"] == "test"
    assert env["AWS_ENDPOINT_URL"].endswith(f":{server.port}")
    assert env["AWS_LAMBDA_RUNTIME_API"]
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == context["log_stream_name"]
    assert result["cwd_files"] == ["app.py"]
    assert result["count"] == 1
    _, again = invoke(client, name)
    assert again["count"] == 2  # the same warm environment served the second invoke


def test_function_can_call_cumulo_with_boto3_from_inside(client):
    name = deploy(client, {"app.py": """
        import boto3

        def handler(event, context):
            logs = boto3.client("logs")
            logs.create_log_group(logGroupName=event["group"])
            return [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=event["group"])["logGroups"]]
    """}, Timeout=30)
    group = f"/from/inside/{uuid.uuid4().hex[:6]}"
    response, result = invoke(client, name, {"group": group})
    assert "FunctionError" not in response, result
    assert result == [group]


def test_update_code_is_served_by_new_environments(client):
    name = deploy(client, {"app.py": "def handler(e, c):\n    return 'v1'\n"})
    assert invoke(client, name)[1] == "v1"
    new_code = make_zip({"app.py": "def handler(e, c):\n    return 'v2'\n"})
    client.update_function_code(FunctionName=name, ZipFile=new_code)
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    assert invoke(client, name)[1] == "v2"
    client.update_function_configuration(FunctionName=name, Environment={"Variables": {"MODE": "x"}})
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    assert invoke(client, name)[1] == "v2"


def test_versions_and_weighted_aliases(client):
    name = deploy(client, {"app.py": "def handler(e, c):\n    return 'one'\n"})
    client.publish_version(FunctionName=name)
    new_code = make_zip({"app.py": "def handler(e, c):\n    return 'two'\n"})
    client.update_function_code(FunctionName=name, ZipFile=new_code)
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    client.publish_version(FunctionName=name)
    response, result = invoke(client, name, Qualifier="1")
    assert (response["ExecutedVersion"], result) == ("1", "one")
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    seen = {}
    for _ in range(40):
        response, result = invoke(client, f"{name}:live")
        seen[response["ExecutedVersion"]] = result
    assert seen == {"1": "one", "2": "two"}


def test_function_errors_have_aws_shapes(client):
    name = deploy(client, {"app.py": """
        def handler(event, context):
            raise ValueError("bad order " + str(event["id"]))
    """})
    response, result = invoke(client, name, {"id": 3})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "ValueError"
    assert result["errorMessage"] == "bad order 3"
    assert isinstance(result["stackTrace"], list)


@pytest.mark.parametrize(("files", "handler", "error_type"), [
    ({"app.py": "import not_a_module\n"}, "app.handler", "Runtime.ImportModuleError"),
    ({"app.py": "x = 1\n"}, "app.handler", "Runtime.HandlerNotFound"),
    ({"app.py": "def handler(e, c):\n    return 1\n"}, "missing.handler", "Runtime.ImportModuleError"),
    ({"app.py": "def handler(e, c)\n    return 1\n"}, "app.handler", "Runtime.UserCodeSyntaxError"),
])
def test_init_and_import_errors(client, files, handler, error_type):
    name = deploy(client, files, handler=handler)
    response, result = invoke(client, name)
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == error_type


def test_crashing_runtime_reports_exit_error(client):
    name = deploy(client, {"app.py": "import sys\n\ndef handler(e, c):\n    sys.exit(3)\n"})
    response, result = invoke(client, name)
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in result["errorMessage"]
    assert invoke(client, name)[0]["FunctionError"] == "Unhandled"  # a fresh environment, same crash


def test_timeout_ends_the_invocation_and_replaces_the_environment(client, logs):
    name = deploy(client, {"app.py": """
        import time
        CALLS = []

        def handler(event, context):
            CALLS.append(1)
            if event.get("sleep"):
                time.sleep(event["sleep"])
            return len(CALLS)
    """}, Timeout=1)
    response, result = invoke(client, name, {"sleep": 5})
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result["errorMessage"]
    assert invoke(client, name)[1] == 1  # a new environment: the module state is fresh
    wait_for(lambda: any("Status: timeout" in m for m in log_messages(logs, name)), message="timeout REPORT")


def test_out_of_memory_is_a_runtime_exit_error(client):
    name = deploy(client, {"app.py": """
        def handler(event, context):
            blocks = []
            while True:
                blocks.append(bytearray(16 * 1024 * 1024))
    """}, MemorySize=128, Timeout=20)
    response, result = invoke(client, name)
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Runtime.ExitError"
    assert "signal: killed" in result["errorMessage"]


def test_log_tail_and_report_lines(client, logs):
    name = deploy(client, {"app.py": """
        import logging
        logging.getLogger().setLevel(logging.INFO)

        def handler(event, context):
            print("printed line")
            logging.info("logged line")
            return "ok"
    """})
    response, _ = invoke(client, name, LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    request_id = response["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id} Version: $LATEST" in tail
    assert "printed line" in tail
    assert f"\t{request_id}\tlogged line" in tail and "[INFO]\t" in tail
    assert f"END RequestId: {request_id}" in tail
    report = next(line for line in tail.splitlines() if line.startswith("REPORT"))
    assert f"REPORT RequestId: {request_id}\tDuration: " in report
    for field in ("Billed Duration: ", "Memory Size: 128 MB", "Max Memory Used: ", "Init Duration: "):
        assert field in report
    second, _ = invoke(client, name, LogType="Tail")
    assert "Init Duration" not in base64.b64decode(second["LogResult"]).decode()
    messages = wait_for(lambda: [m for m in log_messages(logs, name) if m.startswith("REPORT")] and
                        log_messages(logs, name), message="logs in CloudWatch")
    assert any(m.startswith("INIT_START") for m in messages)
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert streams[0]["logStreamName"].split("/")[3].startswith("[$LATEST]")


def test_reserved_concurrency_zero_throttles(server, client):
    name = deploy(client, {"app.py": "def handler(e, c):\n    return 1\n"})
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as excinfo:
        invoke(client, name)
    error = excinfo.value.response
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    cloudwatch = server.client("cloudwatch")
    now = dt.datetime.now(dt.UTC)

    def throttles() -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="Throttles", Dimensions=[{"Name": "FunctionName", "Value": name}],
            StartTime=now - dt.timedelta(minutes=5), EndTime=now + dt.timedelta(minutes=5), Period=600,
            Statistics=["Sum"])["Datapoints"]
        return sum(point["Sum"] for point in points)
    attempts = error["ResponseMetadata"]["RetryAttempts"] + 1  # the SDK may retry a throttled call; each counts
    wait_for(lambda: throttles() == attempts, message="the Throttles metric")
    client.delete_function_concurrency(FunctionName=name)
    assert invoke(client, name)[1] == 1


def test_payload_checks_dry_run_and_missing_functions(client):
    name = deploy(client, {"app.py": "def handler(e, c):\n    return e\n"})
    with pytest.raises(ClientError) as not_json:
        client.invoke(FunctionName=name, Payload=b"{not json")
    assert not_json.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as too_big:
        client.invoke(FunctionName=name, Payload=json.dumps("x" * (6 * 1024 * 1024)).encode())
    assert too_big.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert too_big.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    with pytest.raises(ClientError) as async_too_big:
        client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps("x" * (1024 * 1024)).encode())
    assert async_too_big.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert client.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as missing:
        client.invoke(FunctionName=name + "-missing")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as missing_version:
        client.invoke(FunctionName=name, Qualifier="9")
    assert missing_version.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_event_invocations_run_and_are_retried_on_errors(client, logs):
    name = deploy(client, {"app.py": """
        def handler(event, context):
            print("attempt for", event["id"])
            if event.get("fail"):
                raise RuntimeError("boom")
            return "done"
    """}, Timeout=30)
    response = client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"id": "ok-1"}')
    assert response["StatusCode"] == 202
    client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"id": "bad-1", "fail": true}')
    def attempts(event_id: str) -> int:
        return sum(f"attempt for {event_id}" in m for m in log_messages(logs, name))

    # Events run concurrently and in no particular order: wait for both to be done.
    wait_for(lambda: attempts("bad-1") == 3 and attempts("ok-1") >= 1, timeout=60,
             message="the failing event to run 3 times (1 + 2 retries) and the other once")
    assert attempts("ok-1") == 1
    assert client.invoke_async(FunctionName=name, InvokeArgs=b'{"id": "legacy"}')["Status"] == 202
    wait_for(lambda: any("attempt for legacy" in m for m in log_messages(logs, name)), message="InvokeAsync")


def test_accepted_event_invocations_survive_kill_9(tmp_path):
    first = CumuloServer(tmp_path / "data", env={"CUMULO_RETRY_DELAY_SCALE": "0.005"}).start()
    client = first.client("lambda")
    # Each run leaves a durable mark through the API (a log group per event), so the test sees
    # every event that ran, whichever process ran it.
    name = deploy(client, {"app.py": """
        import time
        import boto3

        def handler(event, context):
            time.sleep(0.1)
            logs = boto3.client("logs")
            try:
                logs.create_log_group(logGroupName=f"/ran/{event['n']}")
            except logs.exceptions.ResourceAlreadyExistsException:
                pass  # at least once: a run after a restart may repeat one
    """}, Timeout=10)
    for n in range(30):
        client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": n}).encode())
    first.stop(signal.SIGKILL)
    second = CumuloServer(tmp_path / "data").start()
    try:
        logs = second.client("logs")

        def ran() -> set[int]:
            groups = logs.describe_log_groups(logGroupNamePrefix="/ran/")["logGroups"]
            return {int(g["logGroupName"].rsplit("/", 1)[1]) for g in groups}

        wait_for(lambda: ran() == set(range(30)), timeout=120, message="all 30 accepted events to run")
    finally:
        second.stop()


def test_node_function(client):
    name = deploy(client, {"index.mjs": """
        export const handler = async (event, context) => {
          console.log("node says", event.n);
          return { doubled: event.n * 2, name: context.functionName };
        };
    """}, runtime="nodejs20.x", handler="index.handler")
    response, result = invoke(client, name, {"n": 21}, LogType="Tail")
    assert result == {"doubled": 42, "name": name}
    assert "node says 21" in base64.b64decode(response["LogResult"]).decode()


def test_provided_runtime_with_a_shell_bootstrap(client):
    name = deploy(client, {"bootstrap": """
        #!/bin/sh
        set -eu
        while true; do
          HEADERS=$(mktemp)
          EVENT=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
          ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
          curl -sS -X POST "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$ID/response" \\
               -d "{\\"echo\\": $EVENT}" > /dev/null
        done
    """}, runtime="provided.al2023", handler="unused")
    assert invoke(client, name, {"x": 1})[1] == {"echo": {"x": 1}}


def test_provided_runtime_with_the_official_awslambdaric(client):
    name = deploy(client, {
        "bootstrap": f"#!/bin/sh\nexec {sys.executable} -m awslambdaric app.handler\n",
        "app.py": "def handler(event, context):\n    return {'ric': event['v'], 'fn': context.function_name}\n",
    }, runtime="provided.al2023", handler="app.handler")
    response, result = invoke(client, name, {"v": 5})
    assert "FunctionError" not in response, result
    assert result["ric"] == 5


def test_code_is_read_only_and_platform_files_are_hidden(client, server):
    name = deploy(client, {"app.py": f"""
        import os

        def handler(event, context):
            out = {{}}
            try:
                open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "new.txt"), "w").write("x")
                out["task_root_writable"] = True
            except OSError:
                out["task_root_writable"] = False
            open("/tmp/scratch.txt", "w").write("ok")
            out["tmp"] = open("/tmp/scratch.txt").read()
            out["state_db_visible"] = os.path.exists({str(Path(server.data_dir).resolve() / 'state.db')!r})
            return out
    """})
    _, result = invoke(client, name)
    assert result == {"task_root_writable": False, "tmp": "ok", "state_db_visible": False}


@pytest.mark.skipif(not Path("/sys/fs/cgroup/freezer").is_dir() or os.geteuid() != 0,
                    reason="needs the cgroup v1 freezer and root")
def test_idle_environment_is_frozen(client):
    name = deploy(client, {"app.py": """
        def handler(event, context):
            lines = open("/proc/self/cgroup").read().splitlines()
            return next(line.split(":", 2)[2] for line in lines if ":freezer:" in line)
    """})
    _, cgroup = invoke(client, name)
    state = Path("/sys/fs/cgroup/freezer") / cgroup.lstrip("/") / "freezer.state"
    assert cgroup.strip("/"), "the environment runs in its own freezer cgroup"
    wait_for(lambda: state.read_text().strip() == "FROZEN", timeout=10, message="the idle environment frozen")
    assert invoke(client, name)[1] == cgroup  # thawed to serve, the same environment
