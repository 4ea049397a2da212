"""CORS, throttling, access logs, AWS service integrations (IntegrationSubtype) and HTTP proxy
integrations of HTTP APIs."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.integration.test_apigw_support import ECHO, ROLE, call, deploy, http_api, route_to_lambda
from tests.server import wait_for


@pytest.fixture(scope="module")
def gw(server):
    return server.client("apigatewayv2")


@pytest.fixture(scope="module")
def echo(server):
    return deploy(server.client("lambda", read_timeout=70), ECHO)


def needs(server, service: str) -> None:
    if service not in server.health()["services"]:
        pytest.skip(f"the {service} service is not part of this build")


# ---------------------------------------------------------------- CORS
@pytest.fixture(scope="module")
def cors_api(gw, echo):
    api = http_api(gw, CorsConfiguration={
        "AllowOrigins": ["https://app.example", "https://*.preview.example"], "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["Authorization", "Content-Type"], "ExposeHeaders": ["X-Total"], "MaxAge": 600,
        "AllowCredentials": True})
    route_to_lambda(gw, api["ApiId"], "ANY /{proxy+}", echo)
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    return api


def test_cors_preflight_is_answered_by_the_gateway(cors_api):
    reply = call(cors_api["ApiEndpoint"] + "/any/path", method="OPTIONS", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert reply.status == 204 and reply.body == b""
    assert reply.header("access-control-allow-origin") == "https://app.example"
    assert reply.header("access-control-allow-methods") == "GET,POST"
    assert reply.header("access-control-allow-headers") == "authorization,content-type"
    assert reply.header("access-control-max-age") == "600"
    assert reply.header("access-control-allow-credentials") == "true"
    wildcard = call(cors_api["ApiEndpoint"] + "/x", method="OPTIONS", headers={
        "Origin": "https://pr-7.preview.example", "Access-Control-Request-Method": "GET"})
    assert wildcard.header("access-control-allow-origin") == "https://pr-7.preview.example"


def test_cors_preflight_from_other_origins_or_methods_gets_no_cors_headers(cors_api):
    for origin, method in (("https://evil.example", "GET"), ("https://app.example", "DELETE")):
        reply = call(cors_api["ApiEndpoint"] + "/x", method="OPTIONS", headers={
            "Origin": origin, "Access-Control-Request-Method": method})
        assert reply.status == 204
        assert reply.header("access-control-allow-origin") is None


def test_cors_headers_on_responses_override_the_integration(cors_api):
    reply = call(cors_api["ApiEndpoint"] + "/data?mode=cors", headers={"Origin": "https://app.example"})
    assert reply.status == 200
    assert reply.all("access-control-allow-origin") == ["https://app.example"]
    assert reply.header("access-control-expose-headers") == "x-total"
    assert reply.header("access-control-allow-credentials") == "true"
    plain = call(cors_api["ApiEndpoint"] + "/data")
    assert plain.header("access-control-allow-origin") is None
    # errors carry the CORS headers too, so browsers can read them
    error = call(cors_api["ApiEndpoint"] + "/data?mode=error", headers={"Origin": "https://app.example"})
    assert error.status == 500 and error.header("access-control-allow-origin") == "https://app.example"


def test_cors_configuration_changes_and_removal(gw, echo):
    api = http_api(gw, CorsConfiguration={"AllowOrigins": ["*"], "AllowMethods": ["*"]})
    route_to_lambda(gw, api["ApiId"], "GET /r", echo)
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    preflight = {"Origin": "https://a.example", "Access-Control-Request-Method": "PUT"}
    reply = call(api["ApiEndpoint"] + "/r", method="OPTIONS", headers=preflight)
    assert reply.status == 204 and reply.header("access-control-allow-origin") == "*"
    assert reply.header("access-control-allow-methods") == "*"
    gw.delete_cors_configuration(ApiId=api["ApiId"])
    assert "CorsConfiguration" not in gw.get_api(ApiId=api["ApiId"])
    assert call(api["ApiEndpoint"] + "/r", method="OPTIONS", headers=preflight).status == 404


# ---------------------------------------------------------------- throttling
def test_stage_and_route_throttling(gw, echo):
    api = http_api(gw)
    route_to_lambda(gw, api["ApiId"], "GET /default", echo)
    route_to_lambda(gw, api["ApiId"], "GET /strict", echo)
    route_to_lambda(gw, api["ApiId"], "GET /closed", echo)
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True,
                    DefaultRouteSettings={"ThrottlingBurstLimit": 3, "ThrottlingRateLimit": 0.001},
                    RouteSettings={"GET /strict": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0.001},
                                   "GET /closed": {"ThrottlingBurstLimit": 0, "ThrottlingRateLimit": 0}})
    statuses = [call(api["ApiEndpoint"] + "/default").status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert [call(api["ApiEndpoint"] + "/strict").status for _ in range(2)] == [200, 429]
    throttled = call(api["ApiEndpoint"] + "/closed")
    assert (throttled.status, throttled.json()) == (429, {"message": "Too Many Requests"})
    # raising the limits applies at once
    gw.update_stage(ApiId=api["ApiId"], StageName="$default",
                    RouteSettings={"GET /strict": {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 100}})
    assert call(api["ApiEndpoint"] + "/strict").status == 200
    gw.delete_route_settings(ApiId=api["ApiId"], StageName="$default", RouteKey="GET /closed")
    assert call(api["ApiEndpoint"] + "/closed").status == 200


# ---------------------------------------------------------------- access logs
def test_access_logs_with_context_variables(server, gw, echo):
    logs = server.client("logs")
    group = f"/apigw/access-{uuid.uuid4().hex[:6]}"
    api = http_api(gw)
    route_to_lambda(gw, api["ApiId"], "GET /logged/{id}", echo)
    fmt = ('{"requestId":"$context.requestId","routeKey":"$context.routeKey","status":"$context.status",'
           '"ip":"$context.identity.sourceIp","method":"$context.httpMethod","path":"$context.path",'
           '"error":"$context.error.message","integrationStatus":"$context.integrationStatus",'
           '"stage":"$context.stage","length":"$context.responseLength","time":"$context.requestTime"}')
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True, AccessLogSettings={
        "DestinationArn": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}", "Format": fmt})
    ok = call(api["ApiEndpoint"] + "/logged/5")
    missing = call(api["ApiEndpoint"] + "/nowhere")

    def lines() -> list[dict]:
        try:
            found = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [json.loads(e["message"]) for e in found] if len(found) >= 2 else []

    entries = {entry["requestId"]: entry for entry in wait_for(lines, message="access log lines")}
    first = entries[ok.header("apigw-requestid")]
    assert first["routeKey"] == "GET /logged/{id}" and first["status"] == "200" and first["method"] == "GET"
    assert first["path"] == "/logged/5" and first["ip"] == "127.0.0.1" and first["error"] == "-"
    assert first["integrationStatus"] == "200" and first["stage"] == "$default"
    assert int(first["length"]) == len(ok.body)
    second = entries[missing.header("apigw-requestid")]
    assert second["status"] == "404" and second["error"] == "Not Found" and second["routeKey"] == "-"


# ---------------------------------------------------------------- AWS service integrations
def service_route(gw, api_id: str, route_key: str, subtype: str, parameters: dict[str, str]) -> None:
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationSubtype=subtype,
                                        PayloadFormatVersion="1.0", CredentialsArn=ROLE,
                                        RequestParameters=parameters)
    assert integration["IntegrationSubtype"] == subtype and integration["PayloadFormatVersion"] == "1.0"
    gw.create_route(ApiId=api_id, RouteKey=route_key, Target=f"integrations/{integration['IntegrationId']}")


def test_lambda_invoke_integration_with_parameter_mapping(gw, echo):
    api = http_api(gw)
    service_route(gw, api["ApiId"], "POST /invoke/{name}", "Lambda-Invoke",
                  {"FunctionName": "$request.path.name", "Payload": "$request.body",
                   "InvocationType": "$request.header.x-invocation-type"})
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    name = echo.split(":")[-1]
    reply = call(api["ApiEndpoint"] + f"/invoke/{name}", method="POST",
                 body=json.dumps({"headers": {"x-mode": "shortcut"}, "rawPath": "/direct"}),
                 headers={"Content-Type": "application/json"})
    assert reply.status == 200, reply.body
    assert reply.json() == {"hello": "world", "path": "/direct"}
    queued = call(api["ApiEndpoint"] + f"/invoke/{name}", method="POST", body="{}",
                  headers={"Content-Type": "application/json", "X-Invocation-Type": "Event"})
    assert queued.status == 202
    missing = call(api["ApiEndpoint"] + "/invoke/no-such-function", method="POST", body="{}",
                   headers={"Content-Type": "application/json"})
    assert missing.status == 404 and "Function not found" in missing.json()["message"]


def test_unavailable_service_integration_is_500(server, gw):
    assert "appconfig" not in server.health()["services"]  # a service Cumulo does not serve
    api = http_api(gw)
    service_route(gw, api["ApiId"], "GET /config", "AppConfig-GetConfiguration",
                  {"Application": "a", "Environment": "e", "Configuration": "c", "ClientId": "x"})
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    reply = call(api["ApiEndpoint"] + "/config")
    assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"})


def test_kinesis_put_record_integration(server, gw):
    kinesis = server.client("kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    api = http_api(gw)
    service_route(gw, api["ApiId"], "POST /click", "Kinesis-PutRecord",
                  {"StreamName": "clicks", "Data": "$request.body", "PartitionKey": "$request.header.x-user"})
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    reply = call(api["ApiEndpoint"] + "/click", method="POST", body='{"page": "/home"}',
                 headers={"x-user": "ann", "content-type": "application/json"})
    assert reply.status == 200 and reply.json()["ShardId"] == "shardId-000000000000", reply.body
    shard = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="clicks", ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    assert [(r["PartitionKey"], r["Data"]) for r in records] == [("ann", b'{"page": "/home"}')]


def test_sqs_send_message_integration(server, gw):
    needs(server, "sqs")
    sqs = server.client("sqs")
    queue = sqs.create_queue(QueueName=f"apigw-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    api = http_api(gw)
    service_route(gw, api["ApiId"], "POST /send", "SQS-SendMessage",
                  {"QueueUrl": "$request.header.x-queue", "MessageBody": "$request.body.message",
                   "DelaySeconds": "0"})
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    reply = call(api["ApiEndpoint"] + "/send", method="POST", body=json.dumps({"message": {"order": 7}}),
                 headers={"Content-Type": "application/json", "X-Queue": queue})
    assert reply.status == 200, reply.body
    result = reply.json()["SendMessageResponse"]["SendMessageResult"]
    assert result["MessageId"] and result["MD5OfMessageBody"]
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"order": 7}]
    assert messages[0]["MessageId"] == result["MessageId"]
    # the service's own errors come back with its status
    bad = call(api["ApiEndpoint"] + "/send", method="POST", body=json.dumps({"message": "x"}),
               headers={"Content-Type": "application/json", "X-Queue": queue + "-missing"})
    assert bad.status == 400 and bad.json()["Error"]["Code"]


def test_eventbridge_put_events_integration(server, gw):
    needs(server, "events")
    api = http_api(gw)
    service_route(gw, api["ApiId"], "POST /events", "EventBridge-PutEvents",
                  {"Detail": "$request.body", "DetailType": "order.created", "Source": "com.example.shop",
                   "Resources": '["arn:aws:shop:::order/1"]'})
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    if "sqs" in server.health()["services"]:
        sqs = server.client("sqs")
        events = server.client("events")
        queue = sqs.create_queue(QueueName=f"apigw-events-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule = f"apigw-{uuid.uuid4().hex[:6]}"
        events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["com.example.shop"]}))
        events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    reply = call(api["ApiEndpoint"] + "/events", method="POST", body=json.dumps({"id": 1}),
                 headers={"Content-Type": "application/json"})
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["FailedEntryCount"] == 0 and body["Entries"][0]["EventId"]
    if "sqs" in server.health()["services"]:
        delivered = wait_for(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages"),
                             message="the event delivered to SQS")
        event = json.loads(delivered[0]["Body"])
        assert event["detail"] == {"id": 1} and event["detail-type"] == "order.created"


def test_step_functions_integrations(server, gw):
    needs(server, "stepfunctions")
    sfn = server.client("stepfunctions")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"got.$": "$"},
                                                              "End": True}}})
    express = sfn.create_state_machine(name=f"x-{uuid.uuid4().hex[:6]}", definition=definition, roleArn=ROLE,
                                       type="EXPRESS")["stateMachineArn"]
    standard = sfn.create_state_machine(name=f"s-{uuid.uuid4().hex[:6]}", definition=definition,
                                        roleArn=ROLE)["stateMachineArn"]
    api = http_api(gw)
    service_route(gw, api["ApiId"], "POST /sync", "StepFunctions-StartSyncExecution",
                  {"StateMachineArn": express, "Input": "$request.body"})
    service_route(gw, api["ApiId"], "POST /start", "StepFunctions-StartExecution",
                  {"StateMachineArn": standard, "Input": "$request.body", "Name": "$request.header.x-name"})
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    reply = call(api["ApiEndpoint"] + "/sync", method="POST", body=json.dumps({"a": 1}),
                 headers={"Content-Type": "application/json"})
    assert reply.status == 200, reply.body
    result = reply.json()
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == {"got": {"a": 1}}
    name = f"run-{uuid.uuid4().hex[:8]}"
    started = call(api["ApiEndpoint"] + "/start", method="POST", body=json.dumps({"b": 2}),
                   headers={"Content-Type": "application/json", "X-Name": name})
    assert started.status == 200, started.body
    execution = started.json()["executionArn"]
    assert execution.endswith(":" + name) and isinstance(started.json()["startDate"], float | int)
    wait_for(lambda: sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED",
             message="the standard execution")


# ---------------------------------------------------------------- HTTP proxy
@pytest.fixture(scope="module")
def backend():
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            data = json.dumps({"method": self.command, "path": self.path, "body": body.decode(),
                               "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Backend", "yes")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    instance = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=instance.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{instance.server_address[1]}"
    instance.shutdown()
    instance.server_close()


def test_http_proxy_integration_with_parameter_mapping(gw, backend):
    api = http_api(gw)
    integration = gw.create_integration(
        ApiId=api["ApiId"], IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
        IntegrationUri=f"{backend}/backend/{{proxy}}", PayloadFormatVersion="1.0",
        RequestParameters={"append:header.x-request-id": "$context.requestId", "overwrite:querystring.q": "replaced",
                           "remove:header.x-secret": "''"},
        ResponseParameters={"200": {"append:header.x-from": "$response.header.x-backend",
                                    "overwrite:statuscode": "202"}})
    gw.create_route(ApiId=api["ApiId"], RouteKey="ANY /proxy/{proxy+}",
                    Target=f"integrations/{integration['IntegrationId']}")
    quick = gw.create_api(Name="quick-http", ProtocolType="HTTP", Target=backend)
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    reply = call(api["ApiEndpoint"] + "/proxy/a/b?q=original&keep=1", method="POST", body="payload",
                 headers={"Content-Type": "text/plain", "X-Secret": "s3cret", "X-Other": "o"})
    assert reply.status == 202, reply.body
    seen = reply.json()
    assert seen["method"] == "POST" and seen["body"] == "payload"
    assert seen["path"].startswith("/backend/a/b?") and "q=replaced" in seen["path"] and "keep=1" in seen["path"]
    assert "x-secret" not in seen["headers"] and seen["headers"]["x-other"] == "o"
    assert seen["headers"]["x-request-id"] == reply.header("apigw-requestid")
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert reply.header("x-from") == "yes"
    # quick create with an HTTP URL: the $default route sends the whole path on
    passthrough = call(quick["ApiEndpoint"] + "/some/where?x=1")
    assert passthrough.status == 200 and passthrough.json()["path"] == "/some/where?x=1"
