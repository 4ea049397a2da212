"""Extensions and Telemetry APIs inside environments: external extensions from layers, internal ones
through AWS_LAMBDA_EXEC_WRAPPER, INVOKE/SHUTDOWN events, telemetry delivery."""

from __future__ import annotations

import json
import sys
import textwrap
import time

import pytest

from .conftest import Runtime, payload, wait_for

EXTENSION = textwrap.dedent('''
    #!{python}
    import json, os, sys, urllib.request
    API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
    name = os.path.basename(__file__)
    req = urllib.request.Request(API + "/register", data=json.dumps({{"events": ["INVOKE", "SHUTDOWN"]}}).encode(),
                                 headers={{"Lambda-Extension-Name": name}}, method="POST")
    with urllib.request.urlopen(req) as r:
        ext_id = r.headers["Lambda-Extension-Identifier"]
        print("registered", name, json.loads(r.read())["functionName"], flush=True)
    while True:
        req = urllib.request.Request(API + "/event/next", headers={{"Lambda-Extension-Identifier": ext_id}})
        with urllib.request.urlopen(req) as r:
            event = json.loads(r.read())
        print("event", event["eventType"], event.get("requestId") or event.get("shutdownReason"), flush=True)
        if event["eventType"] == "SHUTDOWN":
            sys.exit(0)
''').lstrip()


def _layer(tmp, name: str, files: dict[str, str], executable: tuple[str, ...] = ()):
    root = tmp / name
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel in executable or rel.startswith("extensions/"):
            path.chmod(0o755)
    return root


@pytest.fixture(scope="module")
def rt_ext(tmp_path_factory):
    runtime = Runtime(tmp_path_factory.mktemp("rtext"), "auto")
    yield runtime
    runtime.close()


def test_external_extension_gets_invoke_and_shutdown(rt_ext, tmp_path):
    layer = _layer(tmp_path, "layer", {"extensions/probe": EXTENSION.format(python=sys.executable)})
    spec = rt_ext.function({"app.py": "def handler(e, c):\n    print('in handler')\n    return 'ok'\n"},
                           layer_dirs=(layer,))
    result = rt_ext.invoke(spec, {}, request_id="req-1")
    assert payload(result) == "ok"
    assert result.completion is not None  # extensions were still busy when the response came

    async def finished():
        await result.completion
    rt_ext.run(finished())
    assert "\tDuration: " in rt_ext.messages(result.log_stream)[-1]
    wait_for(lambda: any("event INVOKE req-1" in m for m in rt_ext.messages(result.log_stream)))
    messages = rt_ext.messages(result.log_stream)
    assert any(m.startswith("registered probe ") for m in messages)
    rt_ext.run(rt_ext.pool.retire(spec.key))
    wait_for(lambda: any("event SHUTDOWN spindown" in m for m in rt_ext.messages(result.log_stream)))


SUBSCRIBER = textwrap.dedent('''
    #!{python}
    import http.server, json, os, socket, sys, threading, urllib.request
    RUNTIME_API = os.environ["AWS_LAMBDA_RUNTIME_API"]
    API = "http://" + RUNTIME_API + "/2020-01-01/extension"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            for event in batch:
                record = event["record"]
                if event["type"] == "function":
                    print("telemetry function", record.strip(), flush=True)
                else:
                    print("telemetry", event["type"], json.dumps(record, sort_keys=True), flush=True)
            self.send_response(200)
            self.end_headers()
        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("sandbox.localdomain", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    req = urllib.request.Request(API + "/register", data=b'{{"events": ["INVOKE"]}}',
                                 headers={{"Lambda-Extension-Name": os.path.basename(__file__)}}, method="POST")
    with urllib.request.urlopen(req) as r:
        ext_id = r.headers["Lambda-Extension-Identifier"]
    body = {{"schemaVersion": "{schema}", "types": ["platform", "function"],
            "buffering": {{"timeoutMs": 25, "maxItems": 1000, "maxBytes": 262144}},
            "destination": {{"protocol": "HTTP", "URI": "http://sandbox.localdomain:%d/events" % server.server_port}}}}
    req = urllib.request.Request("http://" + RUNTIME_API + "{path}", data=json.dumps(body).encode(),
                                 headers={{"Lambda-Extension-Identifier": ext_id, "Content-Type": "application/json"}},
                                 method="PUT")
    with urllib.request.urlopen(req) as r:
        print("subscribed", r.status, r.read().decode(), flush=True)
    while True:
        req = urllib.request.Request(API + "/event/next", headers={{"Lambda-Extension-Identifier": ext_id}})
        with urllib.request.urlopen(req) as r:
            r.read()
''').lstrip()


def _invoke_done(rt, spec, event, request_id):
    """Invoke and wait for the end of the invoke (extensions ready again)."""
    result = rt.invoke(spec, event, request_id=request_id)
    if result.completion is not None:
        async def finished():
            await result.completion
        rt.run(finished())
    return result


def _events(messages: list[str], kind: str) -> list[dict]:
    prefix = f"telemetry {kind} "
    return [json.loads(m[len(prefix):]) for m in messages if m.startswith(prefix)]


@pytest.mark.parametrize("schema", ["2022-12-13", "2022-07-01"])
def test_telemetry_subscriber_gets_platform_events(rt_ext, tmp_path, schema):
    layer = _layer(tmp_path, "layer", {"extensions/subscriber": SUBSCRIBER.format(
        python=sys.executable, schema=schema, path="/2022-07-01/telemetry")})
    spec = rt_ext.function({"app.py": "def handler(e, c):\n    print('hello from the handler')\n    return 'ok'\n"},
                           layer_dirs=(layer,), memory_mb=256)
    first = _invoke_done(rt_ext, spec, {}, "t-1")
    second = _invoke_done(rt_ext, spec, {}, "t-2")
    assert payload(first) == payload(second) == "ok" and not second.cold_start
    stream = first.log_stream

    def reports():
        return {r["requestId"]: r for r in _events(rt_ext.messages(stream), "platform.report")}
    found = wait_for(lambda: len(reports()) == 2 and reports())
    report = found["t-1"]
    assert report["status"] == "success"
    assert set(report["metrics"]) == {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB",
                                      "initDurationMs"}
    assert report["metrics"]["memorySizeMB"] == 256
    assert "initDurationMs" not in found["t-2"]["metrics"]
    messages = rt_ext.messages(stream)
    assert "subscribed 200 OK\n" in messages
    init_start = _events(messages, "platform.initStart")[0]
    assert init_start["initializationType"] == "on-demand" and init_start["phase"] == "init"
    assert ("functionName" in init_start) == (schema == "2022-12-13")
    assert _events(messages, "platform.initReport")[0]["metrics"]["durationMs"] > 0
    assert [s["requestId"] for s in _events(messages, "platform.start")] == ["t-1", "t-2"]
    done = _events(messages, "platform.runtimeDone")
    assert done[0]["status"] == "success" and done[0]["metrics"]["producedBytes"] == 4
    assert [s["name"] for s in done[0]["spans"]] == ["responseLatency", "responseDuration"]
    assert _events(messages, "platform.telemetrySubscription")[0]["types"] == ["platform", "function"]
    assert any(m == "telemetry function hello from the handler\n" for m in messages)


def test_logs_api_subscriber(rt_ext, tmp_path):
    layer = _layer(tmp_path, "layer", {"extensions/subscriber": SUBSCRIBER.format(
        python=sys.executable, schema="2020-08-15", path="/2020-08-15/logs")})
    spec = rt_ext.function({"app.py": "def handler(e, c):\n    return 'ok'\n"}, layer_dirs=(layer,))
    _invoke_done(rt_ext, spec, {}, "l-1")
    result = _invoke_done(rt_ext, spec, {}, "l-2")
    stream = result.log_stream
    wait_for(lambda: len(_events(rt_ext.messages(stream), "platform.report")) == 2)
    messages = rt_ext.messages(stream)
    assert _events(messages, "platform.end")[0] == {"requestId": "l-1"}
    assert _events(messages, "platform.start")[0] == {"requestId": "l-1", "version": "$LATEST"}
    assert set(_events(messages, "platform.report")[0]) == {"requestId", "metrics"}
    assert not _events(messages, "platform.initStart")


def test_subscription_validation(rt_ext, tmp_path):
    probe = textwrap.dedent('''
        #!{python}
        import json, os, urllib.request, urllib.error
        API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
        req = urllib.request.Request(API + "/2020-01-01/extension/register", data=b'{{"events": []}}',
                                     headers={{"Lambda-Extension-Name": "v"}}, method="POST")
        with urllib.request.urlopen(req) as r:
            ext_id = r.headers["Lambda-Extension-Identifier"]
        def put(body, ident=ext_id):
            req = urllib.request.Request(API + "/2022-07-01/telemetry", data=json.dumps(body).encode(),
                                         headers={{"Lambda-Extension-Identifier": ident}}, method="PUT")
            try:
                with urllib.request.urlopen(req) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())["errorType"]
        dest = {{"protocol": "HTTP", "URI": "http://sandbox.localdomain:9"}}
        print("check", put({{"schemaVersion": "2022-12-13", "types": ["platform"], "destination": dest,
                            "buffering": {{"maxItems": 24}}}}), flush=True)
        print("check", put({{"schemaVersion": "1999-01-01", "types": ["platform"], "destination": dest}}), flush=True)
        print("check", put({{"schemaVersion": "2022-12-13", "types": ["nope"], "destination": dest}}), flush=True)
        req = urllib.request.Request(API + "/2020-01-01/extension/event/next")
        try:
            urllib.request.urlopen(req)
        except urllib.error.HTTPError as e:
            print("check", e.code, json.loads(e.read())["errorType"], flush=True)
        req = urllib.request.Request(API + "/2020-01-01/extension/event/next",
                                     headers={{"Lambda-Extension-Identifier": ext_id}})
        while True:
            urllib.request.urlopen(req).read()
    ''').lstrip()
    layer = _layer(tmp_path, "layer", {"extensions/v": probe.format(python=sys.executable)})
    spec = rt_ext.function({"app.py": "def handler(e, c):\n    return 'ok'\n"}, layer_dirs=(layer,))
    result = rt_ext.invoke(spec, {})
    checks = [m for m in rt_ext.messages(result.log_stream) if m.startswith("check")]
    assert checks == ["check (400, 'ValidationError')\n", "check (400, 'ValidationError')\n",
                      "check (400, 'ValidationError')\n", "check 403 Extension.MissingExtensionIdentifier\n"]


def test_exec_wrapper_and_init_error(rt_ext, tmp_path):
    wrapper = _layer(tmp_path, "wrap", {"wrapper.sh": "#!/bin/sh\nexport WRAPPED=yes\nexec \"$@\"\n"},
                     executable=("wrapper.sh",))
    spec = rt_ext.function({"app.py": "import os, sys\ndef handler(e, c):\n"
                                      "    return [os.environ.get('WRAPPED'), sys.argv[0]]\n"},
                           layer_dirs=(wrapper,), environment={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper.sh"})
    assert payload(rt_ext.invoke(spec, {})) == ["yes", "/var/runtime/bootstrap.py"]
    failing = textwrap.dedent('''
        #!{python}
        import os, urllib.request
        API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
        req = urllib.request.Request(API + "/register", data=b'{{"events": ["INVOKE"]}}',
                                     headers={{"Lambda-Extension-Name": "bad"}}, method="POST")
        ext_id = urllib.request.urlopen(req).headers["Lambda-Extension-Identifier"]
        req = urllib.request.Request(API + "/init/error", data=b'{{}}', method="POST",
                                     headers={{"Lambda-Extension-Identifier": ext_id,
                                              "Lambda-Extension-Function-Error-Type": "Extension.ConfigInvalid"}})
        print(urllib.request.urlopen(req).status, flush=True)
    ''').lstrip()
    layer = _layer(tmp_path, "bad", {"extensions/bad": failing.format(python=sys.executable)})
    spec = rt_ext.function({"app.py": "def handler(e, c):\n    return 'ok'\n"}, layer_dirs=(layer,))
    result = rt_ext.invoke(spec, {}, request_id="r-bad")
    assert result.function_error == "Unhandled" and result.error_type == "Extension.InitError"
    assert json.loads(result.payload)["errorType"] == "Extension.InitError"
    messages = rt_ext.messages(result.log_stream)
    assert any(m.startswith("INIT_REPORT") and "Phase: invoke\tStatus: error\tError Type: Extension.InitError"
               in m for m in messages)


def test_timeout_sends_shutdown_with_reason_timeout(rt_ext, tmp_path):
    layer = _layer(tmp_path, "layer", {"extensions/probe": EXTENSION.format(python=sys.executable)})
    spec = rt_ext.function({"app.py": "import time\ndef handler(e, c):\n    time.sleep(5)\n"},
                           layer_dirs=(layer,), timeout_s=0.5)
    result = rt_ext.invoke(spec, {}, request_id="slow-1")
    assert result.error_type == "Sandbox.Timedout"
    wait_for(lambda: "event SHUTDOWN timeout\n" in rt_ext.messages(result.log_stream))


def test_extension_that_ignores_shutdown_is_killed(rt_ext, tmp_path):
    stubborn = textwrap.dedent('''
        #!{python}
        import json, os, signal, time, urllib.request
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
        req = urllib.request.Request(API + "/register", data=b'{{"events": ["SHUTDOWN"]}}',
                                     headers={{"Lambda-Extension-Name": "stubborn"}}, method="POST")
        ext_id = urllib.request.urlopen(req).headers["Lambda-Extension-Identifier"]
        req = urllib.request.Request(API + "/event/next", headers={{"Lambda-Extension-Identifier": ext_id}})
        event = json.loads(urllib.request.urlopen(req).read())
        print("got", event["eventType"], event["deadlineMs"] - int(time.time() * 1000) <= 2000, flush=True)
        time.sleep(60)
    ''').lstrip()
    layer = _layer(tmp_path, "layer", {"extensions/stubborn": stubborn.format(python=sys.executable)})
    spec = rt_ext.function({"app.py": "def handler(e, c):\n    return 1\n"}, layer_dirs=(layer,))
    result = rt_ext.invoke(spec, {})
    assert payload(result) == 1 and result.completion is None  # not registered for INVOKE: nothing to wait for
    started = time.monotonic()
    rt_ext.run(rt_ext.pool.retire(spec.key))
    # 2 s for extensions, then killed: far less than the extension's 60 s sleep (bound kept generous for load).
    assert time.monotonic() - started < 30
    assert "got SHUTDOWN True\n" in rt_ext.messages(result.log_stream)
    assert not rt_ext.call(lambda: [e for e in rt_ext.pool._all if e.spec.key == spec.key])


def test_telemetry_buffers_drop_and_report_it():
    """A subscriber that falls more than four buffers behind loses events and is told so."""
    import selectors

    from cumulo.runtime.agent import telemetry

    class Ext:
        name = "sub"
    sel = selectors.DefaultSelector()
    tel = telemetry.Telemetry(sel, {})
    tel.end_init()
    from cumulo.runtime.agent.http import Request
    body = json.dumps({"schemaVersion": "2022-12-13", "types": ["function"],
                       "buffering": {"maxItems": 25, "maxBytes": 262144, "timeoutMs": 30000},
                       "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:9"}}).encode()
    reply = tel.handle(Request("PUT", "/2022-07-01/telemetry", {}, body, False), Ext())
    assert reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(b"OK")
    sub = tel.subs[0]
    sub.inflight = object()  # a delivery that never finishes: nothing drains the buffer
    for index in range(120):
        tel.log_line("function", 0, f"line {index}")
    assert len(sub.queue) == 100 and sub.dropped_records == 20
    sub.inflight = None
    delivery = type("D", (), {"count": 100, "body": b"[" + b",".join(sub.queue) + b"]"})()
    tel._delivered(sub, delivery, True)
    dropped = json.loads(sub.queue[-1])
    assert dropped["type"] == "platform.logsDropped" and dropped["record"]["droppedRecords"] == 20
    assert dropped["record"]["reason"].startswith("Consumer seems to have fallen behind")
    for inflight in list(tel.subs):
        if inflight.inflight is not None:
            inflight.inflight.sock.close()


def test_extensions_and_layers_without_a_mount_namespace(rt_off, tmp_path):
    """isolation=off: the layers are a merged directory and every path points at it."""
    layer = _layer(tmp_path, "layer", {"extensions/probe": EXTENSION.format(python=sys.executable),
                                       "python/fromlayer.py": "X = 'layer'\n"})
    spec = rt_off.function({"app.py": "import os, fromlayer\ndef handler(e, c):\n"
                                      "    return [fromlayer.X, fromlayer.__file__, os.environ['PATH']]\n"},
                           layer_dirs=(layer,))
    result = _invoke_done(rt_off, spec, {}, "off-1")
    value, path, env_path = payload(result)
    assert value == "layer" and not path.startswith("/opt/") and path.endswith("/opt/python/fromlayer.py")
    assert env_path.split(":")[-1] == path.rsplit("/python/", 1)[0] + "/bin"
    messages = rt_off.messages(result.log_stream)
    assert any(m.startswith("registered probe") for m in messages) and "event INVOKE off-1\n" in messages
