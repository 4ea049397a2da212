"""Layers, external and internal extensions, and the Telemetry API through the Lambda API (real server, boto3)."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

PY_EXTENSION = textwrap.dedent('''
    #!{python}
    import json, os, sys, time, urllib.request
    API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
    NAME = os.path.basename(__file__)
    SLEEP = float(os.environ.get("EXTENSION_SLEEP", "0"))
    req = urllib.request.Request(API + "/register", data=json.dumps({{"events": ["INVOKE", "SHUTDOWN"]}}).encode(),
                                 headers={{"Lambda-Extension-Name": NAME}}, method="POST")
    with urllib.request.urlopen(req) as r:
        ext_id = r.headers["Lambda-Extension-Identifier"]
        info = json.loads(r.read())
    print(NAME, "registered for", info["functionName"], info["functionVersion"], info["handler"], flush=True)
    while True:
        req = urllib.request.Request(API + "/event/next", headers={{"Lambda-Extension-Identifier": ext_id}})
        with urllib.request.urlopen(req) as r:
            event = json.loads(r.read())
        if event["eventType"] == "SHUTDOWN":
            print(NAME, "SHUTDOWN", event["shutdownReason"], flush=True)
            sys.exit(0)
        print(NAME, "INVOKE", event["requestId"], event["invokedFunctionArn"], event["tracing"]["type"], flush=True)
        time.sleep(SLEEP)
''').lstrip()

C_EXTENSION = r'''
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char host[64];
static int port;

static void call(const char *method, const char *path, const char *headers, const char *body, char *out, int size) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a)) { perror("connect"); exit(1); }
    char req[2048];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: ext\r\n%sContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s", method, path, headers, strlen(body), body);
    if (write(s, req, n) != n) { perror("write"); exit(1); }
    int total = 0, got;
    while ((got = read(s, out + total, size - 1 - total)) > 0) total += got;
    out[total] = 0;
    close(s);
}

int main(void) {
    char buf[65536], headers[256], id[128];
    sscanf(getenv("AWS_LAMBDA_RUNTIME_API"), "%63[^:]:%d", host, &port);
    call("POST", "/2020-01-01/extension/register", "Lambda-Extension-Name: cext\r\n",
         "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}", buf, sizeof buf);
    sscanf(strcasestr(buf, "Lambda-Extension-Identifier: ") + 29, "%127[^\r]", id);
    printf("cext registered\n");
    fflush(stdout);
    snprintf(headers, sizeof headers, "Lambda-Extension-Identifier: %s\r\n", id);
    for (;;) {
        call("GET", "/2020-01-01/extension/event/next", headers, "", buf, sizeof buf);
        char *body = strstr(buf, "\r\n\r\n");
        if (strstr(body, "\"SHUTDOWN\"")) {
            char reason[32] = "";
            sscanf(strstr(body, "\"shutdownReason\":\"") + 18, "%31[^\"]", reason);
            printf("cext SHUTDOWN %s\n", reason);
            fflush(stdout);
            return 0;
        }
        printf("cext INVOKE %.36s\n", strstr(body, "\"requestId\":\"") + 13);
        fflush(stdout);
    }
}
'''

SUBSCRIBER = textwrap.dedent('''
    #!{python}
    import http.server, json, os, threading, urllib.request
    RUNTIME_API = os.environ["AWS_LAMBDA_RUNTIME_API"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            for event in json.loads(self.rfile.read(int(self.headers["Content-Length"]))):
                if event["type"] == "platform.report":
                    print("telemetry", json.dumps(event), flush=True)
            self.send_response(200)
            self.end_headers()
        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("sandbox.localdomain", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    req = urllib.request.Request("http://" + RUNTIME_API + "/2020-01-01/extension/register", data=b'{{"events": []}}',
                                 headers={{"Lambda-Extension-Name": "subscriber"}}, method="POST")
    ext_id = urllib.request.urlopen(req).headers["Lambda-Extension-Identifier"]
    body = {{"schemaVersion": "2022-12-13", "types": ["platform"], "buffering": {{"timeoutMs": 25}},
            "destination": {{"protocol": "HTTP", "URI": "http://sandbox.localdomain:%d" % server.server_port}}}}
    req = urllib.request.Request("http://" + RUNTIME_API + "/2022-07-01/telemetry", data=json.dumps(body).encode(),
                                 headers={{"Lambda-Extension-Identifier": ext_id}}, method="PUT")
    urllib.request.urlopen(req).read()
    req = urllib.request.Request("http://" + RUNTIME_API + "/2020-01-01/extension/event/next",
                                 headers={{"Lambda-Extension-Identifier": ext_id}})
    while True:
        urllib.request.urlopen(req).read()
''').lstrip()


def layer_zip(files: dict[str, str | bytes], executable: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            runnable = name.startswith("extensions/") or name.startswith("bin/") or name in executable
            info.external_attr = (0o755 if runnable else 0o644) << 16
            archive.writestr(info, content)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    instance = CumuloServer(tmp_path_factory.mktemp("extensions") / "data").start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def client(server):
    return server.client("lambda")


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs")


def publish(client, files: dict[str, str | bytes], **kwargs) -> str:
    name = f"layer-{uuid.uuid4().hex[:8]}"
    return client.publish_layer_version(LayerName=name, Content={"ZipFile": layer_zip(files, **kwargs)},
                                        CompatibleRuntimes=["python3.11"])["LayerVersionArn"]


def deploy(client, source: str, layers: list[str], handler: str = "app.handler", runtime: str = "python3.11",
           filename: str = "app.py", **config) -> str:
    name = f"ext-{uuid.uuid4().hex[:8]}"
    config.setdefault("Timeout", 10)
    client.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler, Layers=layers,
                           Code={"ZipFile": make_zip({filename: textwrap.dedent(source).lstrip()})}, **config)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    return name


def messages(logs, name: str) -> list[str]:
    try:
        return [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def test_layers_merge_in_order_and_set_the_runtime_paths(client):
    first = publish(client, {"python/shared.py": "WHO = 'first'\n", "python/only_first.py": "X = 1\n",
                             "data/file.txt": "first\n", "bin/tool": "#!/bin/sh\necho first-tool\n"})
    second = publish(client, {"python/shared.py": "WHO = 'second'\n", "data/file.txt": "second\n",
                              "python/lib/python3.11/site-packages/sitepkg.py": "OK = True\n",
                              "lib/libnothing.txt": "x\n"})
    name = deploy(client, """
        import os, shutil, subprocess, sys
        import only_first, shared, sitepkg
        def handler(event, context):
            return {"shared": shared.WHO, "first": only_first.X, "site": sitepkg.OK,
                    "file": open("/opt/data/file.txt").read().strip(),
                    "tool": subprocess.run(["tool"], capture_output=True, text=True).stdout.strip(),
                    "path": "/opt/bin" in os.environ["PATH"].split(":"),
                    "ld": "/opt/lib" in os.environ["LD_LIBRARY_PATH"].split(":"),
                    "sys_path": [p for p in sys.path if p.startswith("/opt")]}
    """, [first, second])
    body = json.loads(client.invoke(FunctionName=name)["Payload"].read())
    assert body == {"shared": "second", "first": 1, "site": True, "file": "second", "tool": "first-tool",
                    "path": True, "ld": True,
                    "sys_path": ["/opt/python/lib/python3.11/site-packages", "/opt/python"]}
    swapped = deploy(client, "import shared\ndef handler(e, c):\n    return shared.WHO\n", [second, first])
    assert json.loads(client.invoke(FunctionName=swapped)["Payload"].read()) == "first"


@pytest.mark.skipif(not shutil.which("node"), reason="needs node")
def test_node_modules_from_a_layer(client):
    layer = publish(client, {"nodejs/node_modules/greeter/index.js": "exports.greet = n => `hello ${n}`;\n"})
    name = deploy(client, "const {greet} = require('greeter');\nexports.handler = async () => greet('opt');\n",
                  [layer], handler="index.handler", runtime="nodejs20.x", filename="index.js")
    assert json.loads(client.invoke(FunctionName=name)["Payload"].read()) == "hello opt"


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc")
def test_python_and_compiled_extensions_get_invoke_and_shutdown(client, logs, tmp_path):
    source = tmp_path / "cext.c"
    source.write_text(C_EXTENSION)
    subprocess.run(["gcc", "-O1", "-o", str(tmp_path / "cext"), str(source)], check=True)
    layer = publish(client, {"extensions/pyext": PY_EXTENSION.format(python=sys.executable),
                             "extensions/cext": (tmp_path / "cext").read_bytes()})
    name = deploy(client, "def handler(e, c):\n    print('handler ran')\n    return 'done'\n", [layer])
    response = client.invoke(FunctionName=name)
    assert json.loads(response["Payload"].read()) == "done"
    request_id = response["ResponseMetadata"]["RequestId"]
    wait_for(lambda: sum(f"INVOKE {request_id}" in m for m in messages(logs, name)) == 2, message="INVOKE events")
    found = messages(logs, name)
    assert f"pyext registered for {name} $LATEST app.handler" in found
    assert "cext registered" in found
    assert any(m.startswith(f"pyext INVOKE {request_id} arn:aws:lambda:us-east-1:000000000000:function:{name} "
                            "X-Amzn-Trace-Id") for m in found)
    client.update_function_configuration(FunctionName=name, Environment={"Variables": {"CHANGED": "1"}})
    wait_for(lambda: {"pyext SHUTDOWN spindown", "cext SHUTDOWN spindown"} <= set(messages(logs, name)),
             message="SHUTDOWN events")


def test_slow_extension_does_not_delay_the_response(client, logs):
    layer = publish(client, {"extensions/slow": PY_EXTENSION.format(python=sys.executable)})
    name = deploy(client, "def handler(e, c):\n    return 'quick'\n", [layer],
                  Environment={"Variables": {"EXTENSION_SLEEP": "4"}})
    client.invoke(FunctionName=name)  # cold start
    wait_for(lambda: sum(m.startswith("REPORT") for m in messages(logs, name)) == 1, message="first REPORT")
    started = time.monotonic()
    response = client.invoke(FunctionName=name)
    elapsed = time.monotonic() - started
    assert json.loads(response["Payload"].read()) == "quick"
    # The extension's 4 s come after the response: an answer well before them proves it was not held back.
    assert elapsed < 3, elapsed

    def second_report():
        reports = [m for m in messages(logs, name) if m.startswith("REPORT")]
        return reports[1] if len(reports) == 2 else None
    report = wait_for(second_report, message="second REPORT")
    assert float(report.split("\tDuration: ")[1].split(" ms")[0]) >= 4000  # billed for the extension's time


def test_telemetry_subscriber_receives_a_report_per_invoke(client, logs):
    layer = publish(client, {"extensions/subscriber": SUBSCRIBER.format(python=sys.executable)})
    name = deploy(client, "def handler(e, c):\n    return 1\n", [layer], MemorySize=256)
    ids = []
    for _ in range(3):
        response = client.invoke(FunctionName=name)
        ids.append(response["ResponseMetadata"]["RequestId"])
        # the next invoke may only reuse the environment once the subscriber is ready again
        wait_for(lambda n=len(ids): sum(m.startswith("REPORT") for m in messages(logs, name)) == n)

    def reports():
        found = [json.loads(m[len("telemetry "):]) for m in messages(logs, name) if m.startswith("telemetry ")]
        return found if len(found) == 3 else None
    found = wait_for(reports, message="three platform.report events")
    assert [event["record"]["requestId"] for event in found] == ids
    assert all(event["type"] == "platform.report" and event["record"]["status"] == "success" for event in found)
    metrics = found[0]["record"]["metrics"]
    assert metrics["memorySizeMB"] == 256 and metrics["billedDurationMs"] >= 1 and "initDurationMs" in metrics
    assert "initDurationMs" not in found[1]["record"]["metrics"]
    assert found[0]["time"].endswith("Z")


def test_extension_init_error_fails_the_init(client, logs):
    failing = textwrap.dedent('''
        #!{python}
        import os, urllib.request
        API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
        req = urllib.request.Request(API + "/register", data=b'{{"events": ["INVOKE"]}}',
                                     headers={{"Lambda-Extension-Name": "broken"}}, method="POST")
        ext_id = urllib.request.urlopen(req).headers["Lambda-Extension-Identifier"]
        req = urllib.request.Request(API + "/init/error", data=b'{{"errorMessage": "no config"}}', method="POST",
                                     headers={{"Lambda-Extension-Identifier": ext_id,
                                              "Lambda-Extension-Function-Error-Type": "Extension.NoConfig"}})
        print("init/error:", urllib.request.urlopen(req).status, flush=True)
    ''').lstrip()
    layer = publish(client, {"extensions/broken": failing.format(python=sys.executable)})
    name = deploy(client, "def handler(e, c):\n    return 'never'\n", [layer])
    response = client.invoke(FunctionName=name, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Extension.InitError"
    assert error["errorMessage"].startswith(f"RequestId: {response['ResponseMetadata']['RequestId']} Error: ")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "Phase: invoke\tStatus: error\tError Type: Extension.InitError" in tail
    found = wait_for(lambda: [m for m in messages(logs, name) if m.startswith("INIT_REPORT")] or None)
    assert "Phase: init\tStatus: error\tError Type: Extension.InitError" in found[0]
    assert "init/error: 202" in messages(logs, name)


def test_internal_extension_through_an_exec_wrapper(client):
    wrapper = publish(client, {"wrapper.sh": "#!/bin/sh\nexport FROM_WRAPPER=\"$1\"\nexec \"$@\"\n"},
                      executable=("wrapper.sh",))
    name = deploy(client, "import os\ndef handler(e, c):\n    return os.environ.get('FROM_WRAPPER')\n", [wrapper],
                  Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper.sh"}})
    assert json.loads(client.invoke(FunctionName=name)["Payload"].read()) == sys.executable
    with pytest.raises(ClientError):
        client.invoke(FunctionName="does-not-exist")


@pytest.mark.skipif(not shutil.which("node"), reason="needs node")
def test_node_wrapper_and_node_options(client):
    layer = publish(client, {"wrapper.sh": "#!/bin/sh\nexport WRAPPED_ARGS=\"$*\"\nexec \"$@\"\n",
                             "preload.js": "globalThis.preloaded = 'from NODE_OPTIONS';\n"},
                    executable=("wrapper.sh",))
    name = deploy(client, "exports.handler = async () => [globalThis.preloaded, process.env.WRAPPED_ARGS];\n",
                  [layer], handler="index.handler", runtime="nodejs20.x", filename="index.js",
                  Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper.sh",
                                             "NODE_OPTIONS": "--require /opt/preload.js"}})
    preloaded, args = json.loads(client.invoke(FunctionName=name)["Payload"].read())
    assert preloaded == "from NODE_OPTIONS"
    assert args.endswith("/var/runtime/index.mjs") and "node" in args
