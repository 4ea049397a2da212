"""Cumulo's Python runtime as a function author sees it (isolation on)."""

from __future__ import annotations

import json
import re

from .conftest import payload

HELLO = {"app.py": """
    import os, sys
    import logging
    count = 0
    print("init output")
    def handler(event, context):
        global count
        count += 1
        print("hello", event.get("name"))
        sys.stdout.buffer.write(b"bytes too\\n")
        logging.getLogger().warning("multi\\nline")
        return {"count": count}
"""}


def test_hello_and_warm_reuse(rt):
    spec = rt.function(HELLO)
    first = rt.invoke(spec, {"name": "a"})
    second = rt.invoke(spec, {"name": "b"})
    assert payload(first) == {"count": 1} and payload(second) == {"count": 2}
    assert first.cold_start and first.init_duration_ms > 0 and first.function_error is None
    assert not second.cold_start and second.init_duration_ms is None
    assert first.log_stream == second.log_stream
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", first.log_stream)
    assert second.billed_duration_ms >= second.duration_ms and second.memory_size_mb == 128


def test_log_lines_match_aws(rt):
    spec = rt.function(HELLO)
    result = rt.invoke(spec, {"name": "x"}, request_id="11111111-2222-3333-4444-555555555555")
    msgs = rt.messages(result.log_stream)
    assert msgs[0].startswith("INIT_START Runtime Version: python:3.11")
    assert "init output\n" in msgs
    rid = "11111111-2222-3333-4444-555555555555"
    start = msgs.index(f"START RequestId: {rid} Version: $LATEST\n")
    assert msgs[start + 1] == "hello x\n" and msgs[start + 2] == "bytes too\n"
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.fullmatch(rf"\[WARNING\]\t{stamp}\t{rid}\tmulti\nline\n", msgs[start + 3])
    assert msgs[start + 4] == f"END RequestId: {rid}\n"
    assert re.fullmatch(
        rf"REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\t"
        r"Max Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t\n", msgs[start + 5])
    assert result.log_tail.startswith("START RequestId") and result.log_tail.endswith("ms\t\n")


class _Issuer:
    """Credentials of each environment, numbered (a CredentialIssuer)."""

    def __init__(self) -> None:
        self.issued: list[str] = []

    def issue(self, spec, lifetime_s: float) -> tuple[str, str, str]:
        self.issued.append(spec.role_arn)
        return f"AK{len(self.issued)}", "SK", "ST"

    def revoke(self, access_key: str) -> None:
        pass


def test_context_and_environment(rt, monkeypatch):
    spec = rt.function({"pkg/sub/mod.py": """
        import os, sys, boto3
        def fn(event, context):
            env = {k: os.environ.get(k) for k in event["keys"]}
            return {"env": env, "ctx": {
                "function_name": context.function_name, "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb, "aws_request_id": context.aws_request_id,
                "log_group_name": context.log_group_name, "log_stream_name": context.log_stream_name,
                "identity": context.identity.cognito_identity_id,
                "client": context.client_context.client.installation_id,
                "custom": context.client_context.custom,
                "remaining": context.get_remaining_time_in_millis()},
                "path0": sys.path[0], "boto3": boto3.__name__}
    """}, handler="pkg/sub/mod.fn", memory_mb=256, timeout_s=7.0,
        environment={"MY_VAR": "1", "AWS_REGION": "xx"},
        endpoint_url="http://127.0.0.1:4566", role_arn="arn:aws:iam::000000000000:role/r")
    monkeypatch.setattr(rt.pool.config, "credentials", _Issuer())  # this environment's own
    keys = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_REGION", "AWS_DEFAULT_REGION", "_HANDLER", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT",
            "LAMBDA_RUNTIME_DIR", "AWS_EXECUTION_ENV", "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "AWS_LAMBDA_INITIALIZATION_TYPE", "TZ", "LANG", "PATH", "LD_LIBRARY_PATH", "PYTHONPATH",
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "MY_VAR",
            "_X_AMZN_TRACE_ID"]
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    result = rt.invoke(spec, {"keys": keys}, trace_id=trace, cognito_identity='{"cognitoIdentityId":"id-1"}',
                       client_context='{"client":{"installation_id":"inst"},"custom":{"k":"v"}}')
    body = payload(result)
    env, ctx = body["env"], body["ctx"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == spec.function_name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256" and env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"  # reserved: user value ignored
    assert env["_HANDLER"] == "pkg/sub/mod.fn" and env["MY_VAR"] == "1"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["LAMBDA_TASK_ROOT"] == "/var/task" and env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/" + spec.function_name
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == result.log_stream
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand" and env["TZ"] == ":UTC"
    assert env["LANG"] == "en_US.UTF-8" and env["PYTHONPATH"] == "/var/runtime"
    credentials = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"])
    assert credentials == ("AK1", "SK", "ST") and rt.pool.config.credentials.issued == [spec.role_arn]
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566" and env["_X_AMZN_TRACE_ID"] == trace
    assert ctx["function_name"] == spec.function_name and ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == spec.function_arn and ctx["memory_limit_in_mb"] == "256"
    assert ctx["log_group_name"] == "/aws/lambda/" + spec.function_name
    assert ctx["log_stream_name"] == result.log_stream
    assert ctx["identity"] == "id-1" and ctx["client"] == "inst" and ctx["custom"] == {"k": "v"}
    assert 5000 < ctx["remaining"] <= 7000
    assert body["path0"] == "/var/task" and body["boto3"] == "boto3"


def test_handler_exception(rt):
    spec = rt.function({"app.py": """
        def handler(event, context):
            raise ValueError("boom")
    """})
    result = rt.invoke(spec, {}, request_id="rid-1")
    err = payload(result)
    assert result.function_error == "Unhandled" and result.error_type == "ValueError"
    assert err["errorMessage"] == "boom" and err["errorType"] == "ValueError" and err["requestId"] == "rid-1"
    assert 'File "/var/task/app.py", line 2, in handler' in err["stackTrace"][0]
    assert "[ERROR] ValueError: boom\nTraceback (most recent call last):\n\u00a0\u00a0File" in result.log_tail
    assert payload(rt.invoke(spec, {}))["errorType"] == "ValueError"  # the environment survives


def test_import_error(rt):
    spec = rt.function({"other.py": "x = 1\n"}, handler="missing.handler")
    result = rt.invoke(spec, {})
    assert result.function_error == "Unhandled" and result.error_type == "Runtime.ImportModuleError"
    assert payload(result) == {"errorMessage": "Unable to import module 'missing': No module named 'missing'",
                               "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}
    msgs = rt.messages()
    assert any(re.fullmatch(r"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\t"
                            r"Error Type: Runtime.ImportModuleError\n", m) for m in msgs)
    assert any("Phase: invoke\tStatus: error\tError Type: Runtime.ImportModuleError" in m for m in msgs)
    logged = "[ERROR] Runtime.ImportModuleError: Unable to import module 'missing'"
    assert any(m.startswith(logged) for m in msgs)


def test_handler_not_found_malformed_and_syntax_error(rt):
    missing = rt.invoke(rt.function({"app.py": "def other(e, c): pass\n"}, handler="app.nope"), {})
    assert payload(missing)["errorType"] == "Runtime.HandlerNotFound"
    assert payload(missing)["errorMessage"] == "Handler 'nope' missing on module 'app'"
    bad = rt.invoke(rt.function({"app.py": "x = 1\n"}, handler="nodot"), {})
    assert payload(bad)["errorType"] == "Runtime.MalformedHandlerName"
    assert payload(bad)["errorMessage"] == (
        "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)")
    syntax = rt.invoke(rt.function({"app.py": "def handler(e, c):\n    return (\n"}), {})
    assert syntax.error_type == "Runtime.UserCodeSyntaxError"
    assert payload(syntax)["errorMessage"].startswith("Syntax error in module 'app': ")


def test_sys_exit_is_runtime_exit_error_and_environment_replaced(rt):
    spec = rt.function({"app.py": """
        import sys
        def handler(event, context):
            if event.get("exit"):
                sys.exit(1)
            return "ok"
    """})
    assert payload(rt.invoke(spec, {})) == "ok"
    crashed = rt.invoke(spec, {"exit": True}, request_id="rid-exit")
    assert crashed.function_error == "Unhandled" and crashed.error_type == "Runtime.ExitError"
    message = "RequestId: rid-exit Error: Runtime exited with error: exit status 1"
    assert payload(crashed) == {"errorType": "Runtime.ExitError", "errorMessage": message}
    assert message + "\nRuntime.ExitError\n" in crashed.log_tail
    assert "\tStatus: error\tError Type: Runtime.ExitError\n" in crashed.log_tail
    after = rt.invoke(spec, {})
    assert payload(after) == "ok" and after.cold_start


def test_timeout(rt):
    spec = rt.function({"app.py": """
        import time
        def handler(event, context):
            time.sleep(event.get("sleep", 0))
            return "done"
    """}, timeout_s=1.0)
    result = rt.invoke(spec, {"sleep": 30}, request_id="rid-slow")
    assert result.function_error == "Unhandled" and result.error_type == "Sandbox.Timedout"
    assert payload(result) == {"errorType": "Sandbox.Timedout",
                               "errorMessage": "RequestId: rid-slow Error: Task timed out after 1.00 seconds"}
    assert re.search(r"Z rid-slow Task timed out after 1\.\d\d seconds\n", result.log_tail)
    assert result.log_tail.endswith("\tStatus: timeout\n")
    assert 1000 <= result.duration_ms < 10_000  # stopped at the timeout, not after the 30 s sleep
    again = rt.invoke(spec, {})
    assert payload(again) == "done" and again.cold_start  # the timed-out environment was replaced


def test_retire_replaces_environment(rt):
    spec = rt.function(HELLO)
    assert payload(rt.invoke(spec, {}))["count"] == 1
    assert payload(rt.invoke(spec, {}))["count"] == 2
    assert rt.run(rt.pool.retire(spec.key)) == 1
    result = rt.invoke(spec, {})
    assert payload(result)["count"] == 1 and result.cold_start


def test_concurrent_invokes_get_separate_environments(rt):
    spec = rt.function({"app.py": """
        import os, time
        def handler(event, context):
            time.sleep(0.2)
            return os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
    """})
    results = rt.invoke_many(spec, 3)
    assert len({json.loads(r.payload) for r in results}) == 3


def test_response_too_large(rt):
    spec = rt.function({"app.py": """
        def handler(event, context):
            return "x" * (6 * 1024 * 1024)
    """})
    result = rt.invoke(spec, {})
    assert result.function_error == "Unhandled" and result.error_type == "Function.ResponseSizeTooLarge"
    assert payload(result) == {
        "errorMessage": "Response payload size (6291458 bytes) exceeded maximum allowed payload size "
                        "(6291456 bytes).",
        "errorType": "Function.ResponseSizeTooLarge"}


def test_other_python_versions(rt):
    from cumulo.runtime import supported_runtimes

    others = [r for r in supported_runtimes() if r.startswith("python") and r != "python3.11"]
    for runtime in others[:1] + others[-1:]:  # the oldest and the newest other interpreter
        spec = rt.function({"app.py": """
            import sys
            def handler(event, context):
                return "%d.%d" % sys.version_info[:2]
        """}, runtime=runtime)
        assert payload(rt.invoke(spec, {})) == runtime[len("python"):]
