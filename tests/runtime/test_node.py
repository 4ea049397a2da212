"""Cumulo's Node runtime: CommonJS and ESM handlers, async and callback styles, AWS's formats."""

from __future__ import annotations

import re

from .conftest import payload


def test_commonjs_callback_and_context(rt):
    spec = rt.function({"index.js": """
        let count = 0;
        exports.handler = function (event, context, callback) {
          count += 1;
          console.log("event", event, count);
          callback(null, {
            count, fn: context.functionName, version: context.functionVersion,
            arn: context.invokedFunctionArn,
            mem: context.memoryLimitInMB, rid: context.awsRequestId, group: context.logGroupName,
            stream: context.logStreamName, remaining: context.getRemainingTimeInMillis(),
            identity: context.identity, cc: context.clientContext,
            env: { exec: process.env.AWS_EXECUTION_ENV, root: process.env.LAMBDA_TASK_ROOT,
                   nodePath: process.env.NODE_PATH, trace: process.env._X_AMZN_TRACE_ID },
          });
        };
    """}, runtime="nodejs20.x", handler="index.handler")
    result = rt.invoke(spec, {"a": 1}, request_id="node-1", trace_id="Root=1-n",
                       cognito_identity='{"cognitoIdentityId":"c"}', client_context='{"custom":{"x":1}}')
    body = payload(result)
    assert body["count"] == 1 and body["fn"] == spec.function_name and body["version"] == "$LATEST"
    assert body["arn"] == spec.function_arn and body["mem"] == "128" and body["rid"] == "node-1"
    assert body["group"] == "/aws/lambda/" + spec.function_name and body["stream"] == result.log_stream
    assert 0 < body["remaining"] <= 3000
    assert body["identity"] == {"cognitoIdentityId": "c"} and body["cc"] == {"custom": {"x": 1}}
    assert body["env"]["exec"] == "AWS_Lambda_nodejs20.x" and body["env"]["root"] == "/var/task"
    assert body["env"]["nodePath"].endswith(":/var/runtime:/var/task") and body["env"]["trace"] == "Root=1-n"
    line = r"\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tnode-1\tINFO\tevent { a: 1 } 1\n"
    assert re.search(line, result.log_tail)
    assert payload(rt.invoke(spec, {}))["count"] == 2


def test_esm_async_handler(rt):
    spec = rt.function({"app.mjs": """
        export const handler = async (event) => {
          console.warn("careful");
          return { esm: true, got: event.v };
        };
    """}, runtime="nodejs22.x", handler="app.handler")
    result = rt.invoke(spec, {"v": 3})
    assert payload(result) == {"esm": True, "got": 3}
    assert "\tWARN\tcareful\n" in result.log_tail


def test_js_module_package_and_nested_dir(rt):
    spec = rt.function({"package.json": '{"type": "module"}', "src/handlers/main.js": """
        export async function run(event) { return "module " + event.n; }
    """}, runtime="nodejs20.x", handler="src/handlers/main.run")
    assert payload(rt.invoke(spec, {"n": 7})) == "module 7"


def test_errors(rt):
    spec = rt.function({"index.js": """
        exports.handler = async () => { throw new TypeError("bad input"); };
    """}, runtime="nodejs20.x", handler="index.handler")
    result = rt.invoke(spec, {}, request_id="node-err")
    err = payload(result)
    assert result.function_error == "Unhandled" and result.error_type == "TypeError"
    assert err["errorType"] == "TypeError" and err["errorMessage"] == "bad input"
    assert err["trace"][0] == "TypeError: bad input"
    assert '\tnode-err\tERROR\tInvoke Error \t{"errorType":"TypeError","errorMessage":"bad input","stack":[' \
        in result.log_tail


def test_import_errors(rt):
    missing = rt.invoke(rt.function({"other.js": ""}, runtime="nodejs20.x", handler="index.handler"), {})
    assert missing.error_type == "Runtime.ImportModuleError"
    assert payload(missing)["errorMessage"] == (
        "Error: Cannot find module 'index'\nRequire stack:\n- /var/runtime/index.mjs")
    not_found = rt.invoke(rt.function({"index.js": "exports.other = 1;"}, runtime="nodejs20.x",
                                      handler="index.handler"), {})
    assert not_found.error_type == "Runtime.HandlerNotFound"
    assert payload(not_found)["errorMessage"] == "index.handler is undefined or not exported"
    syntax = rt.invoke(rt.function({"index.js": "exports.handler = ("}, runtime="nodejs20.x",
                                   handler="index.handler"), {})
    assert syntax.error_type == "Runtime.UserCodeSyntaxError"
    assert payload(syntax)["errorMessage"].startswith("SyntaxError: ")


def test_process_exit(rt):
    spec = rt.function({"index.js": "exports.handler = async () => { process.exit(2); };"},
                       runtime="nodejs20.x", handler="index.handler")
    result = rt.invoke(spec, {}, request_id="node-exit")
    assert result.error_type == "Runtime.ExitError"
    assert payload(result)["errorMessage"] == (
        "RequestId: node-exit Error: Runtime exited with error: exit status 2")
