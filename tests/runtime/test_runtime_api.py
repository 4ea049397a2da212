"""The Runtime API contract, exercised by a provided.al2023 bootstrap that reports what it saw."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import payload

PROBE = {"bootstrap": """
    #!/usr/bin/env python3
    import http.client, json, os
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    def call(method, path, body=None, headers=None):
        c = http.client.HTTPConnection(host, int(port))
        c.request(method, "/2018-06-01/runtime/" + path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read().decode(), dict(r.getheaders())
    while True:
        status, body, headers = call("GET", "invocation/next")
        rid = headers["Lambda-Runtime-Aws-Request-Id"]
        lambda_headers = {k: v for k, v in headers.items() if k.startswith("Lambda")}
        seen = {"next": [status, json.loads(body), lambda_headers]}
        seen["wrong_id"] = call("POST", "invocation/not-the-id/response", b"{}")[:2]
        seen["init_error_late"] = call("POST", "init/error", b"{}")[:2]
        seen["not_found"] = call("GET", "nope")[:2]
        seen["bad_method"] = call("GET", "invocation/%s/response" % rid)[:1]
        seen["trace_env"] = os.environ.get("_X_AMZN_TRACE_ID")
        if json.loads(body).get("mode") == "error":
            seen["post"] = call("POST", "invocation/%s/error" % rid, b"not json",
                                {"Lambda-Runtime-Function-Error-Type": "Custom.Thing"})[:2]
        else:
            seen["post"] = call("POST", "invocation/%s/response" % rid, json.dumps(seen).encode())[:2]
        seen["again"] = call("POST", "invocation/%s/response" % rid, b"{}")[:2]
        with open("/tmp/seen.json", "w") as f:
            json.dump(seen, f)
"""}


def test_contract_status_codes_and_headers(rt):
    spec = rt.function(PROBE, runtime="provided.al2023", handler="unused")
    result = rt.invoke(spec, {"k": 1}, request_id="req-1", trace_id="Root=1-abc;Sampled=1",
                       client_context='{"custom":{"a":1}}', cognito_identity='{"cognitoIdentityId":"x"}')
    seen = payload(result)
    status, event, headers = seen["next"]
    assert status == 200 and event == {"k": 1}
    assert headers["Lambda-Runtime-Aws-Request-Id"] == "req-1"
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == spec.function_arn
    assert headers["Lambda-Runtime-Trace-Id"] == "Root=1-abc;Sampled=1"
    assert headers["Lambda-Runtime-Client-Context"] == '{"custom":{"a":1}}'
    assert headers["Lambda-Runtime-Cognito-Identity"] == '{"cognitoIdentityId":"x"}'
    assert int(headers["Lambda-Runtime-Deadline-Ms"]) > 0
    assert seen["wrong_id"] == [400, '{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}\n']
    assert seen["init_error_late"] == [
        403, '{"errorMessage":"State transition from Running to InitError failed for runtime. '
             'Error: State transition is not allowed","errorType":"InvalidStateTransition"}\n']
    assert seen["not_found"] == [404, "404 page not found\n"]
    assert seen["bad_method"] == [405]
    assert result.function_error is None


def test_error_post_and_repeated_response(rt):
    spec = rt.function(PROBE, runtime="provided.al2023", handler="unused")
    result = rt.invoke(spec, {"mode": "error"})
    assert result.function_error == "Unhandled" and result.error_type == "Custom.Thing"
    assert result.payload == b"not json"
    # the second invoke's bootstrap reports the first loop's repeated-response status via /tmp
    probe = rt.function({"bootstrap": PROBE["bootstrap"].replace(
        'seen = {"next"',
        'prev = json.load(open("/tmp/seen.json")) if os.path.exists("/tmp/seen.json") else None\n'
        '        seen = {"prev": prev, "next"')}, runtime="provided.al2023", handler="unused")
    rt.invoke(probe, {})
    prev = payload(rt.invoke(probe, {}))["prev"]
    assert prev["post"] == [202, '{"status":"OK"}\n']
    assert prev["again"] == [
        403, '{"errorMessage":"State transition from RuntimeResponseSentState to InvocationResponse failed '
             'for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}\n']


def test_oversized_response_gets_413(rt):
    spec = rt.function({"bootstrap": """
        #!/usr/bin/env python3
        import http.client, os
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
        c = http.client.HTTPConnection(host, int(port))
        while True:
            c.request("GET", "/2018-06-01/runtime/invocation/next")
            r = c.getresponse(); r.read()
            rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
            path = "/2018-06-01/runtime/invocation/%s/response" % rid
            c.request("POST", path, b"x" * (6 * 1024 * 1024 + 1))
            r = c.getresponse()
            print(r.status, r.read().decode().strip(), flush=True)
    """}, runtime="provided.al2023", handler="unused")
    result = rt.invoke(spec, {})
    assert result.error_type == "Function.ResponseSizeTooLarge" and result.function_error == "Unhandled"
    assert json.loads(result.payload)["errorMessage"] == (
        "Response payload size (6291457 bytes) exceeded maximum allowed payload size (6291456 bytes).")

    def logged():
        return [m for m in rt.messages(result.log_stream) if m.startswith("413 ")]
    from .conftest import wait_for
    assert wait_for(logged) == [
        '413 {"errorMessage":"Exceeded maximum allowed payload size (6291456 bytes).",'
        '"errorType":"RequestEntityTooLarge"}\n']


def test_response_too_large_to_read_is_refused_unread(rt):
    spec = rt.function({"app.py": """
        def handler(event, context):
            return "x" * (17 * 1024 * 1024)
    """})
    result = rt.invoke(spec, {})
    assert result.error_type == "Function.ResponseSizeTooLarge"
    assert json.loads(result.payload)["errorMessage"].startswith("Response payload size (17825794 bytes)")


def test_init_error_endpoint(rt):
    spec = rt.function({"bootstrap": """
        #!/bin/sh
        echo "starting"
        curl -s -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error" \\
             -H "Lambda-Runtime-Function-Error-Type: Custom.InitFailed" \\
             -d '{"errorMessage":"no config","errorType":"Custom.InitFailed"}'
        exit 3
    """}, runtime="provided.al2023", handler="unused")
    result = rt.invoke(spec, {})
    assert result.function_error == "Unhandled" and result.error_type == "Custom.InitFailed"
    assert payload(result) == {"errorMessage": "no config", "errorType": "Custom.InitFailed"}
    assert any("Phase: init\tStatus: error\tError Type: Custom.InitFailed" in m for m in rt.messages())


def test_shell_curl_bootstrap(rt):
    spec = rt.function({"bootstrap": """
        #!/bin/sh
        set -eu
        API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
        while true; do
          HEADERS=$(mktemp)
          EVENT=$(curl -sS -LD "$HEADERS" "$API/invocation/next")
          ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
          echo "handling $ID"
          BODY="{\\"echo\\": $EVENT, \\"handler\\": \\"$_HANDLER\\"}"
          curl -sS -X POST "$API/invocation/$ID/response" -d "$BODY" >/dev/null
        done
    """}, runtime="provided.al2", handler="function.handler")
    result = rt.invoke(spec, {"x": 1}, request_id="sh-1")
    assert payload(result) == {"echo": {"x": 1}, "handler": "function.handler"}
    assert "handling sh-1\n" in result.log_tail
    assert payload(rt.invoke(spec, {"x": 2}))["echo"] == {"x": 2}


def _python_with_awslambdaric() -> str | None:
    from cumulo.runtime.discovery import installations

    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [*(i.path for i in installations("python", None)), shutil.which("python3"),
                  *map(str, sorted(pyenv.glob("versions/*/bin/python3")))]
    for python in candidates:
        probe = [python, "-c", "import awslambdaric"] if python else None
        if probe and subprocess.run(probe, capture_output=True).returncode == 0:
            return python
    return None


def test_awslambdaric_bootstrap(rt):
    python = _python_with_awslambdaric()
    if python is None:
        pytest.skip("no interpreter on this host has awslambdaric installed")
    spec = rt.function({"bootstrap": f"""
        #!/bin/sh
        exec {python} -m awslambdaric handler.fn
    """, "handler.py": """
        import logging, os
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        def fn(event, context):
            logger.info("got %%s", event)
            trace = os.environ.get("_X_AMZN_TRACE_ID")
            return {"ok": event["n"], "rid": context.aws_request_id, "trace": trace}
    """.replace("%%", "%")}, runtime="provided.al2023", handler="handler.fn")
    result = rt.invoke(spec, {"n": 5}, request_id="ric-1", trace_id="Root=1-ric")
    assert payload(result) == {"ok": 5, "rid": "ric-1", "trace": "Root=1-ric"}
    assert "\tric-1\tgot {'n': 5}" in result.log_tail
    assert payload(rt.invoke(spec, {"n": 6}))["ok"] == 6


def test_missing_and_non_executable_bootstrap(rt):
    empty = rt.function({"README": "x"}, runtime="provided.al2023", handler="x")
    missing = rt.invoke(empty, {}, request_id="m-1")
    assert missing.error_type == "Runtime.InvalidEntrypoint" and missing.function_error == "Unhandled"
    assert payload(missing)["errorMessage"] == ("RequestId: m-1 Error: Couldn't find valid bootstrap(s): "
                                                "[/var/task/bootstrap /opt/bootstrap]")
    spec = rt.function({"bootstrap.txt": "x"}, runtime="provided.al2023", handler="x")
    (spec.code_dir / "bootstrap.txt").rename(spec.code_dir / "bootstrap")
    denied = rt.invoke(spec, {}, request_id="m-2")
    assert denied.error_type == "Runtime.InvalidEntrypoint"
    assert payload(denied)["errorMessage"] == (
        "RequestId: m-2 Error: fork/exec /var/task/bootstrap: permission denied")
