"""Response streaming with real functions: InvokeWithResponseStream through boto3, function URLs
with InvokeMode RESPONSE_STREAM over HTTP, Node.js's awslambda.streamifyResponse and a
provided-runtime bootstrap posting in the Runtime API's streaming mode.

Streaming is proven, not timed: the function writes its first bytes, then waits (long-polling an
SQS queue) for a message that the test sends only after it has received those bytes. A buffered
response could not get past that point; its wait would time out and say so in the answer."""

from __future__ import annotations

import http.client
import json
import textwrap
import uuid
from urllib.parse import urlsplit

import pytest

from tests.conftest import make_zip
from tests.integration.test_apigw_support import call

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

# Waits for a message on a queue with plain HTTP (SQS's query protocol; auth is off in tests).
NODE_STREAMER = textwrap.dedent("""
    const http = require("node:http");

    function receive(queueUrl) {
      const body = new URLSearchParams({Action: "ReceiveMessage", QueueUrl: queueUrl, WaitTimeSeconds: "10",
                                        Version: "2012-11-05"}).toString();
      return new Promise((resolve, reject) => {
        const request = http.request(process.env.AWS_ENDPOINT_URL, {method: "POST",
          headers: {"content-type": "application/x-www-form-urlencoded"}}, (response) => {
          let text = "";
          response.on("data", (d) => (text += d));
          response.on("end", () => resolve(text.includes("<Body>go</Body>") ? "released" : "timed out"));
        });
        request.on("error", reject);
        request.end(body);
      });
    }

    exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
      if (event.requestContext) event = JSON.parse(event.body || "{}");  // through a function URL
      if (event.mode === "http") {
        responseStream = awslambda.HttpResponseStream.from(responseStream, {
          statusCode: 201, headers: {"content-type": "text/plain", "x-streamed": "yes"}, cookies: ["a=1"]});
      } else {
        responseStream.setContentType("text/plain");
      }
      responseStream.write("first|");
      if (event.queue) responseStream.write(await receive(event.queue) + "|");
      if (event.fail) throw new Error("broke after the first bytes");
      responseStream.write("last");
      responseStream.end();
    });
""")

# A provided runtime whose bootstrap streams with Python's http.client (chunked, trailers on error).
BOOTSTRAP = textwrap.dedent("""\
    #!/usr/bin/env python3
    import base64, http.client, json, os
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    prefix = "/2018-06-01/runtime/invocation/"
    while True:
        conn = http.client.HTTPConnection(host, int(port))
        conn.request("GET", prefix + "next")
        reply = conn.getresponse()
        event = json.loads(reply.read())
        request_id = reply.getheader("Lambda-Runtime-Aws-Request-Id")
        conn.putrequest("POST", prefix + request_id + "/response")
        conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Content-Type", "application/x-ndjson")
        conn.endheaders()
        for n in range(event["lines"]):
            line = json.dumps({"n": n}).encode() + b"\\n"
            conn.send(b"%x\\r\\n%b\\r\\n" % (len(line), line))
        trailer = b""
        if event.get("fail"):
            error = base64.b64encode(json.dumps({"errorMessage": "bad line", "errorType": "LineError"}).encode())
            trailer = (b"Lambda-Runtime-Function-Error-Type: LineError\\r\\n"
                       b"Lambda-Runtime-Function-Error-Body: %b\\r\\n" % error)
        conn.send(b"0\\r\\n" + trailer + b"\\r\\n")
        conn.getresponse().read()
        conn.close()
""")


@pytest.fixture(scope="module")
def lam(server):
    return server.client("lambda", read_timeout=70)


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


def create(lam, runtime: str, handler: str, files: dict[str, str]) -> str:
    name = f"stream-{uuid.uuid4().hex[:10]}"
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler, Timeout=30,
                        Code={"ZipFile": make_zip(files)})
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    return name


@pytest.fixture(scope="module")
def node_streamer(lam):
    return create(lam, "nodejs20.x", "index.handler", {"index.js": NODE_STREAMER})


@pytest.fixture(scope="module")
def bootstrap_streamer(lam):
    return create(lam, "provided.al2023", "unused", {"bootstrap": BOOTSTRAP})


def events_of(response) -> list[tuple[str, dict]]:
    return [next(iter(event.items())) for event in response["EventStream"]]


def test_bytes_reach_the_caller_as_the_function_writes_them(lam, sqs, node_streamer):
    queue = sqs.create_queue(QueueName=f"release-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    response = lam.invoke_with_response_stream(FunctionName=node_streamer,
                                               Payload=json.dumps({"queue": queue}).encode())
    assert response["StatusCode"] == 200
    assert response["ResponseStreamContentType"] == "text/plain"
    stream = iter(response["EventStream"])
    assert next(stream) == {"PayloadChunk": {"Payload": b"first|"}}
    sqs.send_message(QueueUrl=queue, MessageBody="go")  # only now can the function go on
    rest = list(stream)
    body = b"".join(event["PayloadChunk"]["Payload"] for event in rest if "PayloadChunk" in event)
    assert body == b"released|last"
    assert rest[-1] == {"InvokeComplete": {}}


def test_an_error_after_the_first_bytes_ends_the_stream_with_its_code(lam, node_streamer):
    response = lam.invoke_with_response_stream(FunctionName=node_streamer, Payload=b'{"fail": true}',
                                               LogType="Tail")
    events = events_of(response)
    assert events[0] == ("PayloadChunk", {"Payload": b"first|"})
    kind, complete = events[-1]
    assert kind == "InvokeComplete" and complete["ErrorCode"] == "Error"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "broke after the first bytes"
    assert "REPORT RequestId" in __import__("base64").b64decode(complete["LogResult"]).decode()


def test_plain_invoke_of_a_streaming_function_gets_the_whole_response(lam, node_streamer):
    response = lam.invoke(FunctionName=node_streamer, Payload=b"{}")
    assert response["Payload"].read() == b"first|last"
    failed = lam.invoke(FunctionName=node_streamer, Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "Error"


def test_buffered_functions_answer_in_one_chunk(lam):
    name = create(lam, "python3.11", "app.handler", {"app.py": textwrap.dedent("""
        def handler(event, context):
            if event.get("fail"):
                raise ValueError("nope")
            return {"echo": event}
    """)})
    events = events_of(lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"a": 1}'))
    assert events == [("PayloadChunk", {"Payload": b'{"echo": {"a": 1}}'}), ("InvokeComplete", {})]
    _, complete = events_of(lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"fail": 1}'))[-1]
    assert complete["ErrorCode"] == "ValueError"
    assert lam.invoke_with_response_stream(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke_with_response_stream(FunctionName="no-such-function")


def test_a_provided_runtime_streams_in_the_runtime_apis_streaming_mode(lam, bootstrap_streamer):
    response = lam.invoke_with_response_stream(FunctionName=bootstrap_streamer, Payload=b'{"lines": 3}')
    assert response["ResponseStreamContentType"] == "application/x-ndjson"
    events = events_of(response)
    body = b"".join(e["Payload"] for kind, e in events if kind == "PayloadChunk")
    assert [json.loads(line) for line in body.splitlines()] == [{"n": 0}, {"n": 1}, {"n": 2}]
    _, complete = events_of(lam.invoke_with_response_stream(FunctionName=bootstrap_streamer,
                                                            Payload=b'{"lines": 1, "fail": true}'))[-1]
    assert (complete["ErrorCode"], json.loads(complete["ErrorDetails"])["errorMessage"]) == ("LineError", "bad line")


@pytest.fixture(scope="module")
def streaming_url(lam, node_streamer):
    url = lam.create_function_url_config(FunctionName=node_streamer, AuthType="AWS_IAM",
                                         InvokeMode="RESPONSE_STREAM")
    lam.update_function_url_config(FunctionName=node_streamer, AuthType="NONE")
    lam.add_permission(FunctionName=node_streamer, StatementId="url", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    lam.add_permission(FunctionName=node_streamer, StatementId="invoke", Action="lambda:InvokeFunction",
                       Principal="*", InvokedViaFunctionUrl=True)
    return url["FunctionUrl"]


def test_function_url_streams_the_http_response_the_function_describes(sqs, streaming_url):
    queue = sqs.create_queue(QueueName=f"release-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    parts = urlsplit(streaming_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("POST", parts.path, body=json.dumps({"mode": "http", "queue": queue}),
                           headers={"content-type": "application/json"})
        response = connection.getresponse()
        assert response.status == 201
        assert response.getheader("x-streamed") == "yes" and response.getheader("set-cookie") == "a=1"
        assert response.getheader("transfer-encoding") == "chunked"
        assert response.read1() == b"first|"  # before the function can finish
        sqs.send_message(QueueUrl=queue, MessageBody="go")
        assert response.read() == b"released|last"
    finally:
        connection.close()


def test_function_url_cuts_the_connection_when_the_function_fails_mid_stream(streaming_url):
    parts = urlsplit(streaming_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("POST", parts.path, body='{"fail": true}', headers={"content-type": "application/json"})
        response = connection.getresponse()
        assert (response.status, response.getheader("content-type")) == (200, "text/plain")
        with pytest.raises(http.client.IncompleteRead):
            response.read()
    finally:
        connection.close()
    reply = call(streaming_url, method="POST", body="{}", headers={"content-type": "application/json"})
    assert (reply.status, reply.body) == (200, b"first|last")
