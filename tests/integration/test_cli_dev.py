"""`cumulo build` (dependencies installed, cached by hash) and `cumulo dev` (edit, then live)."""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import boto3

from tests.server import free_port, subprocess_env, wait_for

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
Outputs:
  Name: {Value: !Ref Api}
"""


def make_wheel(directory: Path, name: str, module_source: str) -> Path:
    """A minimal, valid pure-Python wheel (installable offline with pip)."""
    wheel = directory / f"{name}-1.0-py3-none-any.whl"
    dist = f"{name}-1.0.dist-info"
    files = {f"{name}.py": module_source,
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(text.encode())}")
        archive.writestr(f"{dist}/RECORD", "\n".join([*record, f"{dist}/RECORD,,"]) + "\n")
    return wheel


def cumulo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = subprocess_env({"PIP_NO_INDEX": "1"})
    return subprocess.run([sys.executable, "-m", "cumulo.cli.main", *args], capture_output=True, text=True,
                          timeout=180, cwd=cwd, env=environment)


def test_build_installs_requirements_caches_and_deploys_the_built_code(server, tmp_path: Path):
    wheel = make_wheel(tmp_path, "greeting_lib", "WORD = 'from a dependency'\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "requirements.txt").write_text(f"{wheel}\n")
    (tmp_path / "src" / "app.py").write_text(
        "import greeting_lib\n\ndef handler(e, c):\n    return greeting_lib.WORD\n")
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    first = cumulo("build", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "built" in first.stdout and "(pip, python3.11)" in first.stdout
    built = tmp_path / ".aws-sam" / "build" / "template.yaml"
    assert built.is_file()
    again = cumulo("build", cwd=tmp_path)
    assert "up to date" in again.stdout
    deployed = cumulo("deploy", "--stack-name", "built-app", "--endpoint-url", server.url, cwd=tmp_path)
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    invoked = cumulo("invoke", "Api", "--stack-name", "built-app", "--endpoint-url", server.url, cwd=tmp_path)
    assert json.loads(invoked.stdout) == "from a dependency"


def test_build_reports_a_failing_install(tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "requirements.txt").write_text("no-such-package-anywhere==1.0\n")
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    result = cumulo("build", cwd=tmp_path)
    assert result.returncode == 1
    assert "pip install" in result.stderr


class DevCommand:
    """``cumulo dev`` on a one-function project in ``folder``, as a process whose output is read."""

    def __init__(self, folder: Path, source: str, port: int | None = None) -> None:
        (folder / "src").mkdir(parents=True)
        (folder / "src" / "app.py").write_text(source)
        (folder / "template.yaml").write_text(TEMPLATE)
        self.port = port or free_port()
        self.state = folder.parent / "state"  # $XDG_STATE_HOME: where the server it starts keeps its data
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cumulo.cli.main", "dev", str(folder), "--port", str(self.port),
             "--stack-name", folder.name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=subprocess_env({"XDG_STATE_HOME": str(self.state)}), cwd=folder)
        self.output: list[str] = []

    def printed(self, text: str) -> bool:
        while text not in "".join(self.output):
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError("cumulo dev exited:\n" + "".join(self.output))
            self.output.append(line)
        return True

    def stop_server(self) -> None:
        stopped = cumulo("stop", "--endpoint-url", f"http://127.0.0.1:{self.port}", cwd=self.state.parent)
        assert stopped.returncode == 0, stopped.stderr
        assert not _answers(self.port)


def _lambda(port: int):
    return boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def _function(port: int, stack: str) -> str:
    cloudformation = boto3.client("cloudformation", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                                  aws_access_key_id="test", aws_secret_access_key="test")
    return cloudformation.describe_stack_resources(StackName=stack, LogicalResourceId="Api")[
        "StackResources"][0]["PhysicalResourceId"]


def test_dev_deploys_then_applies_code_changes_and_streams_logs(tmp_path: Path):
    project = tmp_path / "dev-app"
    dev = DevCommand(project, "def handler(e, c):\n    print('first run')\n    return 'first'\n")
    source, process, port, printed = project / "src" / "app.py", dev.process, dev.port, dev.printed
    try:
        wait_for(lambda: printed("Watching"), timeout=120, message="cumulo dev to deploy")
        assert "Outputs of dev-app" in "".join(dev.output)
        client, name = _lambda(port), _function(port, "dev-app")
        assert json.loads(client.invoke(FunctionName=name)["Payload"].read()) == "first"
        wait_for(lambda: printed("first run"), timeout=30, message="the function's output in the dev console")
        wait_for(lambda: printed("Api: REPORT"), timeout=30, message="the condensed REPORT line")
        source.write_text(textwrap.dedent("""
            def handler(e, c):
                raise ValueError('second is broken')
        """))
        wait_for(lambda: printed("Api updated in"), timeout=60, message="the code update")
        assert json.loads(client.invoke(FunctionName=name)["Payload"].read())["errorType"] == "ValueError"
        wait_for(lambda: printed("second is broken"), timeout=30, message="the function's error in the dev console")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
    assert process.returncode in (0, 1, 130, -signal.SIGINT)
    # The server it started keeps its data in the state directory, not in the project, and outlives it.
    assert (dev.state / "cumulo" / "state.db").is_file() and not (project / ".cumulo").exists()
    assert _answers(port)
    dev.stop_server()


def test_a_shared_server_outlives_the_dev_session_that_started_it(tmp_path: Path):
    first = DevCommand(tmp_path / "first", "def handler(e, c):\n    return 1\n")
    second = None
    try:
        wait_for(lambda: first.printed("Watching"), timeout=120, message="the first cumulo dev to deploy")
        second = DevCommand(tmp_path / "second", "def handler(e, c):\n    return 2\n", port=first.port)
        wait_for(lambda: second.printed("Watching"), timeout=120, message="the second cumulo dev to deploy")
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(30)
        (tmp_path / "second" / "src" / "app.py").write_text("def handler(e, c):\n    return 3\n")
        wait_for(lambda: second.printed("Api updated in"), timeout=60, message="the second session's update")
        assert json.loads(_lambda(first.port).invoke(FunctionName=_function(first.port, "second"))[
            "Payload"].read()) == 3
    finally:
        for dev in (first, second):
            if dev is not None and dev.process.poll() is None:
                dev.process.send_signal(signal.SIGTERM)
                dev.process.wait(30)
    assert _answers(first.port)
    first.stop_server()


def _answers(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_init_creates_a_queue_worker_that_deploys_and_runs(server, tmp_path: Path):
    project = tmp_path / "worker"
    created = cumulo("init", str(project), "--template", "queue-worker", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert (project / "template.yaml").is_file() and (project / "src" / "worker.py").is_file()
    assert (project / "README.md").is_file() and (project / "tests" / "test_worker.py").is_file()
    assert ".cumulo-build/" in (project / ".gitignore").read_text()
    deployed = cumulo("deploy", "--template", str(project / "template.yaml"), "--stack-name", "starter-worker",
                      "--endpoint-url", server.url, cwd=tmp_path)
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    cloudformation = server.client("cloudformation")
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cloudformation.describe_stacks(StackName="starter-worker")["Stacks"][0]["Outputs"]}
    server.client("sqs").send_message(QueueUrl=outputs["QueueUrl"], MessageBody='{"id": 42}')

    def logged() -> bool:
        result = cumulo("logs", "Worker", "--stack-name", "starter-worker", "--endpoint-url", server.url, cwd=tmp_path)
        return "processing job 42" in result.stdout

    wait_for(logged, timeout=60, interval=0.5, message="the worker to process the job")


def test_init_refuses_unknown_starters_and_non_empty_folders(tmp_path: Path):
    unknown = cumulo("init", str(tmp_path / "x"), "--template", "nope", cwd=tmp_path)
    assert unknown.returncode == 1 and "choose one of" in unknown.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file.txt").write_text("x")
    occupied = cumulo("init", str(tmp_path / "full"), "--template", "http-api", cwd=tmp_path)
    assert occupied.returncode == 1 and "not empty" in occupied.stderr
    missing = cumulo("init", str(tmp_path / "y"), cwd=tmp_path)
    assert missing.returncode == 1 and "--template" in missing.stderr
