"""Functions run on the exact version their runtime id names, or on a stated substitute (real servers)."""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest
from botocore.exceptions import ClientError

from cumulo.runtime.discovery import installations
from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
VERSION_HANDLER = """
    import sys
    def handler(event, context):
        return "%d.%d" % sys.version_info[:2]
"""
NODE_VERSION_HANDLER = "exports.handler = async () => process.version;\n"


def _host_has(language: str, key: tuple[int, ...]) -> bool:
    return any(i.version[:len(key)] == key for i in installations(language, None))


needs_313_without_314 = pytest.mark.skipif(
    not _host_has("python", (3, 13)) or _host_has("python", (3, 14)),
    reason="needs a Python 3.13 and no Python 3.14 on this host")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("runtimes") / "data").start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("runtimes-strict") / "data",  # the flag of `cumulo serve`
                            extra_args=["--runtime-substitution", "strict"]).start()
    yield instance
    instance.stop()


def create(client, runtime: str, files: dict[str, str], handler: str) -> str:
    name = f"rt-{uuid.uuid4().hex[:10]}"
    code = make_zip({path: textwrap.dedent(text).lstrip("\n") for path, text in files.items()})
    client.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                           Code={"ZipFile": code}, Timeout=30)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    return name


def invoke(client, name: str) -> object:
    response = client.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def init_start(server: CumuloServer, name: str) -> str:
    logs = server.client("logs")

    def line() -> str | None:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        return next((e["message"] for e in events if e["message"].startswith("INIT_START")), None)
    return wait_for(line, message="INIT_START in CloudWatch Logs")


@needs_313_without_314
def test_missing_python_runs_on_the_nearest_with_a_warning(server):
    client = server.client("lambda")
    name = create(client, "python3.14", {"app.py": VERSION_HANDLER}, "app.handler")
    warning = wait_for(lambda: [line for line in server.log().splitlines() if f"function {name}:" in line],
                       message="the substitution warning in the server log")[0]
    assert "python3.14 is not installed here" in warning and "run on python3.13" in warning
    assert "cumulo runtimes install python3.14" in warning
    assert invoke(client, name) == "3.13"
    assert "Runtime Version: python:3.13." in init_start(server, name)


@needs_313_without_314
def test_a_substituted_python_imports_from_the_layer_path_of_the_version_that_runs(server):
    client = server.client("lambda")
    layer = client.publish_layer_version(LayerName="deps", Content={"ZipFile": make_zip(
        {"python/lib/python3.13/site-packages/shared_dep.py": "VALUE = 'from the 3.13 site-packages'\n"})})
    name = f"rt-{uuid.uuid4().hex[:10]}"
    client.create_function(FunctionName=name, Runtime="python3.14", Role=ROLE, Handler="app.handler", Timeout=30,
                           Layers=[layer["LayerVersionArn"]], Code={"ZipFile": make_zip(
                               {"app.py": "import shared_dep\ndef handler(e, c):\n    return shared_dep.VALUE\n"})})
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    assert invoke(client, name) == "from the 3.13 site-packages"


@needs_313_without_314
def test_strict_refuses_a_missing_python_naming_the_install_command(strict_server):
    client = strict_server.client("lambda")
    with pytest.raises(ClientError) as refused:
        create(client, "python3.14", {"app.py": VERSION_HANDLER}, "app.handler")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "cumulo runtimes install python3.14" in refused.value.response["Error"]["Message"]
    name = create(client, "python3.13", {"app.py": VERSION_HANDLER}, "app.handler")  # exact ones still run
    assert invoke(client, name) == "3.13"


@pytest.mark.skipif(not _host_has("node", (20,)) or _host_has("node", (22,)),
                    reason="needs a node 20 and no node 22 on this host")
def test_nodejs20_runs_on_node_20_and_nodejs22_is_a_stated_substitution(server):
    client = server.client("lambda")
    name = create(client, "nodejs20.x", {"index.js": NODE_VERSION_HANDLER}, "index.handler")
    assert str(invoke(client, name)).startswith("v20.")
    assert "Runtime Version: nodejs20." in init_start(server, name)
    assert f"function {name}:" not in server.log()  # an exact runtime: no warning

    name = create(client, "nodejs22.x", {"index.js": NODE_VERSION_HANDLER}, "index.handler")
    warning = wait_for(lambda: [line for line in server.log().splitlines() if f"function {name}:" in line],
                       message="the substitution warning in the server log")[0]
    assert "nodejs22.x is not installed here" in warning and "run on nodejs20.x" in warning
    assert str(invoke(client, name)).startswith("v20.")
    assert "Runtime Version: nodejs20." in init_start(server, name)


@pytest.mark.skipif(not any(i.version[0] != 11 for i in installations("java", None))
                    or _host_has("java", (11,)), reason="needs a JDK other than 11 and no JDK 11 on this host")
def test_strict_refuses_java11_on_another_jdk(strict_server):
    client = strict_server.client("lambda")
    with pytest.raises(ClientError) as refused:
        create(client, "java11", {"Unused.class": ""}, "example.Info::handle")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "cumulo runtimes install java11" in refused.value.response["Error"]["Message"]


def test_go1x_is_refused_as_aws_refuses_it(server):
    with pytest.raises(ClientError) as refused:
        create(server.client("lambda"), "go1.x", {"main": "binary"}, "main")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert refused.value.response["Error"]["Message"] == (
        "The runtime parameter of go1.x is no longer supported for creating or updating AWS Lambda functions. "
        "We recommend you use a supported runtime while creating or updating functions.")
