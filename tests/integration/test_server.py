"""The server as a process: health, errors at the edge, restarts, signals and the AWS CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import CumuloServer, subprocess_env

ROLE = "arn:aws:iam::000000000000:role/r"


def raw(server: CumuloServer, method: str, path: str, body: bytes = b"",
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(server.url + path, data=body or None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def test_health_lists_version_and_services(server):
    health = server.health()
    assert health["status"] == "running"
    assert health["version"]
    assert health["services"]["lambda"] == "running"
    assert health["services"]["logs"] == "running"


def test_unknown_json_target_gets_unknown_operation(server):
    status, headers, body = raw(server, "POST", "/", b"{}", {
        "X-Amz-Target": "Logs_20140328.NoSuchThing", "Content-Type": "application/x-amz-json-1.1"})
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"
    assert headers["x-amzn-requestid"]


def test_malformed_json_body_gets_serialization_exception(server):
    status, _, body = raw(server, "POST", "/", b"{not json", {
        "X-Amz-Target": "Logs_20140328.DescribeLogGroups", "Content-Type": "application/x-amz-json-1.1"})
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"


def test_wrong_member_type_gets_serialization_exception(server):
    status, _, body = raw(server, "POST", "/", json.dumps({"limit": "ten"}).encode(), {
        "X-Amz-Target": "Logs_20140328.DescribeLogGroups", "Content-Type": "application/x-amz-json-1.1"})
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"


def test_missing_required_member_gets_the_services_validation_error(server):
    status, _, body = raw(server, "POST", "/", b"{}", {
        "X-Amz-Target": "Logs_20140328.CreateLogGroup", "Content-Type": "application/x-amz-json-1.1"})
    assert status == 400
    document = json.loads(body)
    assert document["__type"] == "InvalidParameterException"
    assert "Value null at 'logGroupName' failed to satisfy constraint: Member must not be null" in document[
        "message"]


def test_unroutable_request_gets_a_clear_error_not_a_500(server):
    status, _, body = raw(server, "PATCH", "/no/such/path")
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownServiceException"


def test_unknown_signed_service_is_named_in_the_error(server):
    sqs_like = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kafka/aws4_request, " \
               "SignedHeaders=host, Signature=00"
    status, _, body = raw(server, "GET", "/v1/clusters", headers={"Authorization": sqs_like})
    assert status == 400
    assert "kafka" in json.loads(body)["message"]


def test_rest_path_of_a_known_service_with_wrong_method(server):
    auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, " \
           "SignedHeaders=host, Signature=00"
    status, headers, _ = raw(server, "PATCH", "/2015-03-31/functions", headers={"Authorization": auth})
    assert status == 404
    assert headers["x-amzn-errortype"] == "UnknownOperationException"


def test_query_request_for_unknown_action(server):
    status, headers, body = raw(server, "POST", "/", b"Action=FlyToTheMoon&Version=2010-03-31",
                                {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400
    assert b"<Code>UnknownServiceException</Code>" in body or b"<Code>InvalidAction</Code>" in body
    assert headers["content-type"] == "text/xml"


def test_restart_on_the_same_data_dir_restores_every_resource(tmp_path):
    data = tmp_path / "data"
    first = CumuloServer(data).start()
    try:
        lambda_client = first.client("lambda")
        logs = first.client("logs")
        lambda_client.create_function(FunctionName="persisted", Runtime="python3.11", Role=ROLE,
                                      Handler="app.handler", Code={"ZipFile": make_zip({"app.py": "x=1"})},
                                      Tags={"keep": "yes"})
        lambda_client.get_waiter("function_active_v2").wait(FunctionName="persisted",
                                                            WaiterConfig={"Delay": 0.05})
        lambda_client.publish_version(FunctionName="persisted")
        lambda_client.create_alias(FunctionName="persisted", Name="live", FunctionVersion="1")
        lambda_client.publish_layer_version(LayerName="lib", Content={"ZipFile": make_zip({"x.txt": "x"})})
        lambda_client.add_permission(FunctionName="persisted", StatementId="s", Action="lambda:InvokeFunction",
                                     Principal="sns.amazonaws.com")
        logs.create_log_group(logGroupName="kept")
        logs.create_log_stream(logGroupName="kept", logStreamName="s")
        logs.put_log_events(logGroupName="kept", logStreamName="s",
                            logEvents=[{"timestamp": int(time.time() * 1000), "message": "survives"}])
    finally:
        assert first.stop() == 0

    second = CumuloServer(data).start()
    try:
        lambda_client = second.client("lambda")
        logs = second.client("logs")
        function = lambda_client.get_function(FunctionName="persisted")
        assert function["Configuration"]["State"] == "Active"
        assert function["Tags"] == {"keep": "yes"}
        assert [v["Version"] for v in lambda_client.list_versions_by_function(
            FunctionName="persisted")["Versions"]] == ["$LATEST", "1"]
        assert lambda_client.get_alias(FunctionName="persisted", Name="live")["FunctionVersion"] == "1"
        assert lambda_client.get_layer_version(LayerName="lib", VersionNumber=1)["Version"] == 1
        assert "sns.amazonaws.com" in lambda_client.get_policy(FunctionName="persisted")["Policy"]
        events = logs.get_log_events(logGroupName="kept", logStreamName="s", startFromHead=True)["events"]
        assert [e["message"] for e in events] == ["survives"]
    finally:
        second.stop()


def test_kill_9_loses_nothing_acknowledged(tmp_path):
    data = tmp_path / "data"
    first = CumuloServer(data).start()
    client = first.client("lambda")
    for index in range(20):
        client.create_function(FunctionName=f"f{index}", Runtime="python3.11", Role=ROLE, Handler="a.b",
                               Code={"ZipFile": make_zip({"a.py": f"x={index}"})})
    first.stop(signal.SIGKILL)
    second = CumuloServer(data).start()
    try:
        client = second.client("lambda")
        names = {f["FunctionName"] for f in client.list_functions(MaxItems=100)["Functions"]}
        assert names == {f"f{index}" for index in range(20)}
        # Functions acknowledged as Pending settle after the restart.
        for index in range(20):
            client.get_waiter("function_active_v2").wait(FunctionName=f"f{index}", WaiterConfig={"Delay": 0.05})
    finally:
        second.stop()


def test_sigterm_and_sigint_shut_down_cleanly(tmp_path):
    for sig in (signal.SIGTERM, signal.SIGINT):
        instance = CumuloServer(tmp_path / f"data-{sig}").start()
        assert instance.stop(sig) == 0
        assert "Traceback" not in instance.log()


def test_settings_come_from_environment_and_toml_with_flags_first(tmp_path):
    (tmp_path / "cumulo.toml").write_text('[cumulo]\naccount_id = "111111111111"\ndefault_region = "eu-west-1"\n')
    instance = CumuloServer(tmp_path / "data", env={"CUMULO_CONFIG": str(tmp_path / "cumulo.toml"),
                                                    "CUMULO_ACCOUNT_ID": "222222222222"})
    instance.start()
    try:
        assert instance.health()["accountId"] == "222222222222"  # environment beats the file
        status, _, _ = raw(instance, "POST", "/", b'{"logGroupName": "g"}', {
            "X-Amz-Target": "Logs_20140328.CreateLogGroup", "Content-Type": "application/x-amz-json-1.1"})
        assert status == 200
        groups = instance.client("logs", region="eu-west-1").describe_log_groups()["logGroups"]
        assert groups[0]["arn"].startswith("arn:aws:logs:eu-west-1:222222222222:")
    finally:
        instance.stop()
    flagged = CumuloServer(tmp_path / "data2", extra_args=["--account-id", "333333333333"],
                           env={"CUMULO_ACCOUNT_ID": "222222222222"}).start()
    try:
        assert flagged.health()["accountId"] == "333333333333"
    finally:
        flagged.stop()


def test_bad_configuration_is_reported_without_starting(tmp_path):
    (tmp_path / "cumulo.toml").write_text("[cumulo]\nport = 'not a number'\n")
    result = subprocess.run([sys.executable, "-m", "cumulo.cli.main", "serve"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=30, env=subprocess_env())
    assert result.returncode == 2
    assert "setting 'port'" in result.stderr


def test_aws_cli_drives_lambda_and_logs(server, tmp_path):
    archive = tmp_path / "code.zip"
    archive.write_bytes(make_zip({"app.py": "def handler(e, c):\n    return e\n"}))
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none")}

    def aws(*args: str) -> dict:
        result = subprocess.run(["aws", "--endpoint-url", server.url, "--output", "json", *args],
                                capture_output=True, text=True, env=environment, timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else {}

    created = aws("lambda", "create-function", "--function-name", "cli-fn", "--runtime", "python3.11",
                  "--role", ROLE, "--handler", "app.handler", "--zip-file", f"fileb://{archive}")
    assert created["FunctionName"] == "cli-fn"
    assert created["State"] == "Pending"
    aws("lambda", "wait", "function-active-v2", "--function-name", "cli-fn")
    assert aws("lambda", "get-function", "--function-name", "cli-fn")["Configuration"]["State"] == "Active"
    names = [f["FunctionName"] for f in aws("lambda", "list-functions")["Functions"]]
    assert "cli-fn" in names
    aws("logs", "create-log-group", "--log-group-name", "cli-group")
    groups = aws("logs", "describe-log-groups", "--log-group-name-prefix", "cli-")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["cli-group"]
    failed = subprocess.run(["aws", "--endpoint-url", server.url, "lambda", "get-function",
                             "--function-name", "missing"], capture_output=True, text=True, env=environment,
                            timeout=60)
    assert failed.returncode != 0
    assert "ResourceNotFoundException" in failed.stderr


def test_help_is_available_on_every_command():
    import typer

    from cumulo.cli.main import app

    commands = sorted(typer.main.get_command(app).commands)
    assert {"serve", "deploy", "delete", "init", "build", "invoke", "logs", "dev", "bench"} <= set(commands)
    for args in (["--help"], *([name, "--help"] for name in commands)):
        result = subprocess.run([sys.executable, "-m", "cumulo.cli.main", *args], capture_output=True,
                                text=True, timeout=30, env=subprocess_env())
        assert result.returncode == 0
        assert "Usage" in result.stdout


def test_python_dash_m_cumulo_is_the_cumulo_command():
    result = subprocess.run([sys.executable, "-m", "cumulo", "serve", "--help"], capture_output=True, text=True,
                            timeout=30, env=subprocess_env())
    assert result.returncode == 0
    assert "Usage: cumulo serve" in result.stdout


@pytest.mark.parametrize("name", ["state.db"])
def test_state_lives_in_the_data_directory(server, name):
    assert (Path(server.data_dir) / name).exists()


def test_code_download_of_unknown_artifact_is_404(server):
    status, _, _ = raw(server, "GET", "/_cumulo/code/" + "0" * 64 + ".zip")
    assert status == 404


def test_errors_reach_boto3_as_modeled_exceptions(server):
    client = server.client("logs")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_log_group(logGroupName="never-created")
    with pytest.raises(ClientError):
        client.describe_log_streams(logGroupName="never-created")
