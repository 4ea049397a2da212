"""The commands of a developer's first hour: `cumulo env`, `status`, `invoke`, `logs`, `deploy`'s
outputs, `--help`, and the server's one line per request."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import make_zip
from tests.server import PROJECT_ROOT, CumuloServer, subprocess_env, wait_for

ROLE = "arn:aws:iam::000000000000:role/lambda"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("cli-session") / "data").start()
    yield instance
    instance.stop()


def cumulo(server: CumuloServer, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in subprocess_env({"COLUMNS": "200"}).items()
                   if not key.startswith(("AWS_", "CUMULO_"))}
    environment["CUMULO_PORT"] = str(server.port)
    return subprocess.run([sys.executable, "-m", "cumulo.cli.main", *args], capture_output=True, text=True,
                          timeout=180, cwd=cwd or PROJECT_ROOT, env=environment)


def function(server: CumuloServer, source: str) -> str:
    name = f"fn-{uuid.uuid4().hex[:8]}"
    client = server.client("lambda")
    client.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": source})})
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    return name


def test_env_sets_up_a_shell_for_the_aws_cli_including_start_sync_execution(server: CumuloServer):
    printed = cumulo(server, "env")
    assert printed.returncode == 0, printed.stderr
    assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{server.port}" in printed.stdout
    assert "export AWS_DISABLE_HOST_PREFIX_INJECTION=true" in printed.stdout
    machine = server.client("stepfunctions").create_state_machine(
        name=f"sync-{uuid.uuid4().hex[:8]}", type="EXPRESS", roleArn="arn:aws:iam::000000000000:role/sfn",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    script = f'eval "$({sys.executable} -m cumulo.cli.main env)"\n' \
             f"aws stepfunctions start-sync-execution --state-machine-arn {machine} --input '{{\"n\": 1}}'\n"
    environment = {k: v for k, v in subprocess_env().items() if not k.startswith(("AWS_", "CUMULO_"))}
    environment.update(CUMULO_PORT=str(server.port), HOME=str(server.data_dir.parent),
                       PATH=f"{Path(sys.executable).parent}:{environment.get('PATH', '')}")
    result = subprocess.run(["bash", "-ec", script], capture_output=True, text=True, timeout=120, env=environment)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == "SUCCEEDED" and json.loads(answer["output"]) == {"n": 1}


def test_the_sync_prefixed_host_is_served_where_it_resolves(server: CumuloServer, monkeypatch: pytest.MonkeyPatch):
    """With host prefix injection on (the SDKs' default), boto3 calls sync-localhost for StartSyncExecution:
    where that name resolves (the /etc/hosts line docs/cli.md gives), the server answers it."""
    import socket

    import boto3

    resolve = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *rest, **kw: resolve(
        "127.0.0.1" if host == "sync-localhost" else host, *rest, **kw))
    sfn = boto3.client("stepfunctions", endpoint_url=f"http://localhost:{server.port}", region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    machine = sfn.create_state_machine(
        name=f"prefixed-{uuid.uuid4().hex[:8]}", type="EXPRESS", roleArn="arn:aws:iam::000000000000:role/sfn",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    seen = []
    sfn.meta.events.register("before-send.states.StartSyncExecution", lambda request, **_: seen.append(request.url))
    assert sfn.start_sync_execution(stateMachineArn=machine, input="{}")["status"] == "SUCCEEDED"
    assert seen == [f"http://sync-localhost:{server.port}/"]


def test_status_shows_stacks_functions_with_errors_and_queue_depths(server: CumuloServer):
    failing = function(server, "def handler(e, c):\n    raise ValueError('no')\n")
    server.client("lambda").invoke(FunctionName=failing, Payload=b"{}")
    sqs = server.client("sqs")
    queue = sqs.create_queue(QueueName=f"depth-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    stack = f"status-{uuid.uuid4().hex[:6]}"
    server.client("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(
        {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}))
    wait_for(lambda: server.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0][
        "StackStatus"] == "CREATE_COMPLETE", timeout=60, interval=0.2, message="the stack")
    shown = cumulo(server, "status")
    assert shown.returncode == 0, shown.stderr
    assert f"http://127.0.0.1:{server.port}" in shown.stdout and str(server.data_dir) in shown.stdout
    assert re.search(rf"{stack}\s*│\s*CREATE_COMPLETE", shown.stdout), shown.stdout
    # invocations 1, errors 1; a last-invoke time
    assert re.search(rf"{failing}\s*│\s*python3.11\s*│\s*\d{{4}}-\d\d-\d\d [\d:]+\s*│\s*1\s*│\s*1", shown.stdout), \
        shown.stdout
    assert re.search(rf"{queue.rsplit('/', 1)[-1]}\s*│\s*2\s*│\s*0", shown.stdout), shown.stdout
    queues = cumulo(server, "ls", "queues")
    assert f"{queue.rsplit('/', 1)[-1]}\t2\t0\t0" in queues.stdout.splitlines(), queues.stdout
    functions = cumulo(server, "ls", "functions").stdout.splitlines()
    assert any(line.startswith(f"{failing}\tpython3.11\t") and line.endswith("\t1\t1") for line in functions)
    unknown = cumulo(server, "ls", "tables")
    assert unknown.returncode == 1 and "stacks, functions, queues" in unknown.stderr


def test_invoke_takes_an_inline_payload_and_logs_name_what_exists(server: CumuloServer):
    name = function(server, "def handler(e, c):\n    print('got', e)\n    return e\n")
    invoked = cumulo(server, "invoke", name, '{"inline": true}')
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout) == {"inline": True}
    assert "REPORT RequestId" in invoked.stderr
    unknown = cumulo(server, "logs", "no-such-function")
    assert unknown.returncode == 1 and "no function no-such-function" in unknown.stderr and name in unknown.stderr
    no_stack = cumulo(server, "logs", "Fn", "--stack-name", "no-such-stack")
    assert no_stack.returncode == 1 and "no stack no-such-stack" in no_stack.stderr
    logged = cumulo(server, "logs", name)
    assert logged.returncode == 0 and "got {'inline': True}" in logged.stdout
    fresh = cumulo(server, "logs", function(server, "def handler(e, c):\n    return 1\n"))
    assert fresh.returncode == 0 and "No logs yet" in fresh.stderr


def test_deploy_prints_changes_and_long_outputs_whole_and_the_server_logs_one_line_per_request(server: CumuloServer,
                                                                                   tmp_path: Path):
    long_value = "arn:aws:sns:us-east-1:000000000000:" + "x" * 200
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Topic: {Type: AWS::SNS::Topic}\n"
        f"Outputs:\n  Long: {{Value: {long_value}, Description: a value wider than any terminal}}\n")
    deployed = cumulo(server, "deploy", "--stack-name", "long-outputs", cwd=tmp_path)
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    assert re.search(rf"^\s+Long\s+{long_value}\s+a value wider than any terminal$", deployed.stdout, re.M), \
        deployed.stdout
    template = (tmp_path / "template.yaml").read_text()
    (tmp_path / "template.yaml").write_text(template.replace("Outputs:", "  Queue: {Type: AWS::SQS::Queue}\nOutputs:"))
    updated = cumulo(server, "deploy", "--stack-name", "long-outputs", cwd=tmp_path)
    assert updated.returncode == 0, updated.stderr + updated.stdout
    assert "Changes:\n  + Queue (AWS::SQS::Queue)\n" in updated.stdout, updated.stdout
    log = server.log()
    assert re.search(r"INFO\s+cumulo.gateway: cloudformation.CreateChangeSet long-outputs 200 [\d.]+ ms", log), \
        log[-3000:]
    assert "samtranslator" not in log and "_cumulo/health" not in log


def help_text(command: str) -> str:
    from typer.testing import CliRunner

    from cumulo.cli.main import app

    shown = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert shown.exit_code == 0, shown.output
    return shown.output


@pytest.mark.parametrize("command", ["logs", "serve", "dev", "invoke", "status", "env"])
def test_help_shows_defaults_and_plain_flags_without_a_placeholder(command: str):
    shown = help_text(command)
    assert "<bool>" not in shown
    assert not re.search(r"\w \.(\s|│)", shown), shown  # "Region ." : a default lost to rich markup
    if command in ("logs", "invoke", "status", "env"):
        assert "[default: ($CUMULO_ENDPOINT_URL" in shown and "[default: ($AWS_REGION" in shown


def _documented_options() -> set[tuple[str, str]]:
    """(command, --option) for every `cumulo COMMAND ... --option` in the README and docs/."""
    found = set()
    commands = {"serve", "deploy", "init", "build", "dev", "delete", "invoke", "logs", "env", "stop", "status",
                "bench", "runtimes", "ls"}
    for path in [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md")),
                 *sorted((PROJECT_ROOT / "cumulo" / "starters").glob("*/README.md"))]:
        for match in re.finditer(r"cumulo ([a-z]+)((?: +(?:[^\s`|]+))*)", path.read_text()):
            command = match.group(1)
            if command in commands:
                found.update((command, option) for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)",
                                                                         match.group(2)))
    return found


def test_every_option_the_docs_mention_exists():
    documented = _documented_options()
    assert ("deploy", "--stack-name") in documented and ("invoke", "--event") in documented
    helps: dict[str, str] = {}
    missing = []
    for command, option in sorted(documented):
        if command == "runtimes":
            continue  # a command group: its subcommands' options are checked by test_cli_runtimes
        if command not in helps:
            helps[command] = help_text(command)
        if option not in helps[command]:
            missing.append(f"cumulo {command} {option}")
    assert not missing, missing
