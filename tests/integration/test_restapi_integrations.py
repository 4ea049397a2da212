"""REST API integrations beyond the Lambda proxy: Lambda non-proxy with error selection patterns,
HTTP and HTTP_PROXY, Step Functions and EventBridge actions; request validation, REQUEST
authorizers and their cache, gateway responses, the integration timeout, access logs, and the
AWS CLI's ``test-invoke-method``."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.integration.test_apigw_support import ECHO, call, deploy, lambda_uri
from tests.integration.test_restapi import add_path, url
from tests.server import wait_for

CALCULATOR = """
def handler(event, context):
    if event.get("b") == 0:
        raise ZeroDivisionError("Division by zero")
    return {"quotient": event["a"] / event["b"]}
"""

REQUEST_AUTHORIZER = """
import itertools
calls = itertools.count(1)

def handler(event, context):
    n = next(calls)
    user = event["headers"].get("x-user", "")
    effect = "Allow" if user.startswith("ok") else "Deny"
    return {"principalId": user, "context": {"call": n, "tenant": event["queryStringParameters"]["tenant"]},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect,
                 "Resource": event["methodArn"].rsplit("/", 2)[0] + "/*"}]}}
"""


@pytest.fixture(scope="module")
def apigw(server):
    return server.client("apigateway")


@pytest.fixture(scope="module")
def lam(server):
    return server.client("lambda", read_timeout=70)


@pytest.fixture(scope="module")
def echo(lam):
    return deploy(lam, ECHO)


def method(apigw, api_id, path, verb="GET", **config):
    resource = add_path(apigw, api_id, path)
    apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod=verb,
                     authorizationType=config.pop("authorizationType", "NONE"), **config)
    return resource


def test_lambda_custom_integration_selects_error_responses(server, apigw, lam):
    function = deploy(lam, CALCULATOR)
    api_id = apigw.create_rest_api(name="calc")["id"]
    resource = method(apigw, api_id, "/divide", "POST")
    apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod="POST", type="AWS",
                          integrationHttpMethod="POST", uri=lambda_uri(function),
                          requestTemplates={"application/json": '{"a": $input.params(\'a\'), '
                                                                '"b": $input.params(\'b\')}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=resource, httpMethod="POST", statusCode="200",
                                   responseTemplates={"application/json": '{"result": $input.json(\'$.quotient\')}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=resource, httpMethod="POST", statusCode="400",
                                   selectionPattern="Division.*",
                                   responseTemplates={"application/json":
                                                      '{"error": "$input.path(\'$.errorMessage\')"}'})
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    ok = call(url(server, api_id, "prod", "/divide?a=9&b=3"), method="POST")
    assert (ok.status, ok.json()) == (200, {"result": 3.0})
    error = call(url(server, api_id, "prod", "/divide?a=1&b=0"), method="POST")
    assert (error.status, error.json()) == (400, {"error": "Division by zero"})


def test_http_and_http_proxy_integrations(server, apigw, echo):
    backend = apigw.create_rest_api(name="backend")["id"]
    resource = method(apigw, backend, "/{proxy+}", "ANY")
    apigw.put_integration(restApiId=backend, resourceId=resource, httpMethod="ANY", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=lambda_uri(echo))
    apigw.create_deployment(restApiId=backend, stageName="b")
    front = apigw.create_rest_api(name="front")["id"]
    proxied = method(apigw, front, "/proxy/{rest+}", "ANY")
    apigw.put_integration(restApiId=front, resourceId=proxied, httpMethod="ANY", type="HTTP_PROXY",
                          integrationHttpMethod="ANY", uri=f"{server.url}/_api/{backend}/b/{{rest}}")
    mapped = method(apigw, front, "/mapped", "POST")
    apigw.put_integration(restApiId=front, resourceId=mapped, httpMethod="POST", type="HTTP",
                          integrationHttpMethod="POST", uri=f"{server.url}/_api/{backend}/b/target",
                          requestParameters={"integration.request.header.x-from": "'front'"},
                          requestTemplates={"application/json": '{"wrapped": $input.json(\'$\')}'})
    apigw.put_integration_response(restApiId=front, resourceId=mapped, httpMethod="POST", statusCode="200",
                                   responseTemplates={"application/json": '{"seen": $input.json(\'$.body\'), '
                                                      '"header": "$input.path(\'$.headers\').get(\'x-from\')"}'})
    apigw.create_deployment(restApiId=front, stageName="f")
    reply = call(url(server, front, "f", "/proxy/a/b?q=1"), method="PUT", body="raw", headers={"x-h": "1"})
    assert reply.status == 200, reply.body
    event = reply.json()
    assert event["path"] == "/a/b" and event["httpMethod"] == "PUT" and event["body"] == "raw"
    assert event["queryStringParameters"] == {"q": "1"} and event["headers"]["x-h"] == "1"
    reply = call(url(server, front, "f", "/mapped"), method="POST", body='{"n": 1}',
                 headers={"content-type": "application/json"})
    assert reply.status == 200, reply.body
    assert json.loads(reply.json()["seen"]) == {"wrapped": {"n": 1}}
    assert reply.json()["header"] == "front"


def test_step_functions_eventbridge_and_sns_actions(server, apigw):
    sfn = server.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"rest-{uuid.uuid4().hex[:6]}", roleArn="arn:aws:iam::000000000000:role/r",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    events = server.client("events")
    sqs = server.client("sqs")
    queue = sqs.create_queue(QueueName=f"rest-ev-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"rest-{uuid.uuid4().hex[:6]}"
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["rest.api"]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    api_id = apigw.create_rest_api(name="actions")["id"]
    start = method(apigw, api_id, "/orders", "POST")
    apigw.put_integration(
        restApiId=api_id, resourceId=start, httpMethod="POST", type="AWS", integrationHttpMethod="POST",
        uri="arn:aws:apigateway:us-east-1:states:action/StartExecution",
        requestTemplates={"application/json": '{"input": "$util.escapeJavaScript($input.json(\'$\'))", '
                                              f'"stateMachineArn": "{machine}"}}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=start, httpMethod="POST", statusCode="200")
    put = method(apigw, api_id, "/events", "POST")
    apigw.put_integration(
        restApiId=api_id, resourceId=put, httpMethod="POST", type="AWS", integrationHttpMethod="POST",
        uri="arn:aws:apigateway:us-east-1:events:action/PutEvents",
        requestTemplates={"application/json": '{"Entries": [{"Source": "rest.api", "DetailType": "order", '
                                              '"Detail": "$util.escapeJavaScript($input.body)"}]}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=put, httpMethod="POST", statusCode="200")
    topic = server.client("sns").create_topic(Name=f"rest-{uuid.uuid4().hex[:6]}")["TopicArn"]
    publish = method(apigw, api_id, "/notify", "POST")
    apigw.put_integration(
        restApiId=api_id, resourceId=publish, httpMethod="POST", type="AWS", integrationHttpMethod="POST",
        uri="arn:aws:apigateway:us-east-1:sns:action/Publish",
        requestParameters={"integration.request.querystring.TopicArn": f"'{topic}'",
                           "integration.request.querystring.Message": "method.request.querystring.text"})
    apigw.put_integration_response(restApiId=api_id, resourceId=publish, httpMethod="POST", statusCode="200")
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    published = call(url(server, api_id, "prod", "/notify?text=hello"), method="POST")
    assert published.status == 200, published.body
    assert published.json()["PublishResponse"]["PublishResult"]["MessageId"]
    started = call(url(server, api_id, "prod", "/orders"), method="POST", body='{"order": 7}',
                   headers={"content-type": "application/json"})
    assert started.status == 200, started.body
    execution = started.json()["executionArn"]
    described = wait_for(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] == "SUCCEEDED" and d)
    assert json.loads(described["output"]) == {"order": 7}
    sent = call(url(server, api_id, "prod", "/events"), method="POST", body='{"id": "e1"}',
                headers={"content-type": "application/json"})
    assert sent.status == 200 and sent.json()["FailedEntryCount"] == 0
    message = wait_for(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages"))[0]
    assert json.loads(message["Body"])["detail"] == {"id": "e1"}


def test_request_validation_and_gateway_responses(server, apigw, echo):
    api_id = apigw.create_rest_api(name="validated")["id"]
    apigw.create_model(restApiId=api_id, name="Pet", contentType="application/json", schema=json.dumps({
        "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}))
    validator = apigw.create_request_validator(restApiId=api_id, name="all", validateRequestBody=True,
                                               validateRequestParameters=True)
    resource = method(apigw, api_id, "/pets", "POST", requestValidatorId=validator["id"],
                      requestModels={"application/json": "Pet"},
                      requestParameters={"method.request.querystring.owner": True})
    apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod="POST", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=lambda_uri(echo))
    apigw.put_gateway_response(restApiId=api_id, responseType="BAD_REQUEST_BODY", statusCode="422",
                               responseParameters={"gatewayresponse.header.x-why": "'schema'"},
                               responseTemplates={"application/json": '{"problem": $context.error.messageString, '
                                                                      '"type": "$context.error.responseType"}'})
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    target = url(server, api_id, "prod", "/pets")
    missing = call(target, method="POST", body='{"name": "rex"}', headers={"content-type": "application/json"})
    assert (missing.status, missing.json()) == (400, {"message": "Missing required request parameters: [owner]"})
    invalid = call(target + "?owner=me", method="POST", body='{"age": 3}', headers={"content-type": "application/json"})
    assert invalid.status == 422 and invalid.header("x-why") == "schema"
    assert invalid.json()["type"] == "BAD_REQUEST_BODY" and "name" in invalid.json()["problem"]
    valid = call(target + "?owner=me", method="POST", body='{"name": "rex"}',
                 headers={"content-type": "application/json"})
    assert valid.status == 200
    unknown = call(url(server, api_id, "prod", "/nothing"))
    assert (unknown.status, unknown.json()) == (403, {"message": "Missing Authentication Token"})
    assert unknown.header("x-amzn-errortype") == "MissingAuthenticationTokenException"


def test_request_authorizer_cache_and_flush(server, apigw, lam, echo):
    authorizer_arn = deploy(lam, REQUEST_AUTHORIZER)
    api_id = apigw.create_rest_api(name="req-auth")["id"]
    authorizer = apigw.create_authorizer(restApiId=api_id, name="req", type="REQUEST",
                                         authorizerUri=lambda_uri(authorizer_arn), authorizerResultTtlInSeconds=300,
                                         identitySource="method.request.header.x-user,method.request.querystring.tenant")
    resource = method(apigw, api_id, "/data", "GET", authorizationType="CUSTOM", authorizerId=authorizer["id"])
    apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod="GET", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=lambda_uri(echo))
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    target = url(server, api_id, "prod", "/data")
    assert call(target + "?tenant=t1").status == 401  # an identity source is missing
    assert call(target + "?tenant=t1", headers={"x-user": "bad"}).status == 403
    first = call(target + "?tenant=t1", headers={"x-user": "ok-1"}).json()["requestContext"]["authorizer"]
    again = call(target + "?tenant=t1", headers={"x-user": "ok-1"}).json()["requestContext"]["authorizer"]
    assert first["principalId"] == "ok-1" and first["tenant"] == "t1"
    assert again["call"] == first["call"]  # answered from the cache
    other = call(target + "?tenant=t2", headers={"x-user": "ok-1"}).json()["requestContext"]["authorizer"]
    assert int(other["call"]) > int(first["call"])
    apigw.flush_stage_authorizers_cache(restApiId=api_id, stageName="prod")
    fresh = call(target + "?tenant=t1", headers={"x-user": "ok-1"}).json()["requestContext"]["authorizer"]
    assert int(fresh["call"]) > int(other["call"])


def test_integration_timeout_and_access_log(server, apigw, echo):
    logs = server.client("logs")
    group = f"/rest/access-{uuid.uuid4().hex[:6]}"
    logs.create_log_group(logGroupName=group)
    api_id = apigw.create_rest_api(name="slow")["id"]
    resource = method(apigw, api_id, "/slow", "GET")
    apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod="GET", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=lambda_uri(echo), timeoutInMillis=300)
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/accessLogSettings/destinationArn",
         "value": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"},
        {"op": "replace", "path": "/accessLogSettings/format",
         "value": '{"id": "$context.requestId", "status": "$context.status", "path": "$context.resourcePath"}'}])
    slow = call(url(server, api_id, "prod", "/slow?mode=sleep&seconds=2"))
    assert (slow.status, slow.json()) == (504, {"message": "Endpoint request timed out"})
    found = wait_for(lambda: logs.filter_log_events(logGroupName=group).get("events"), timeout=10)
    line = json.loads(found[0]["message"])
    assert line == {"id": slow.header("x-amzn-requestid"), "status": "504", "path": "/slow"}


def test_aws_cli_test_invoke_method(server, apigw, tmp_path):
    api_id = apigw.create_rest_api(name="cli")["id"]
    resource = method(apigw, api_id, "/ping/{who}", "GET")
    apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api_id, resourceId=resource, httpMethod="GET", statusCode="200",
                                   responseTemplates={"application/json": '{"pong": "$input.params(\'who\')"}'})
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none")}
    output = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", server.url, "apigateway", "test-invoke-method",
         "--rest-api-id", api_id, "--resource-id", resource, "--http-method", "GET",
         "--path-with-query-string", "/ping/cli"], capture_output=True, text=True, env=env, check=True).stdout
    result = json.loads(output)
    assert result["status"] == 200 and json.loads(result["body"]) == {"pong": "cli"}


def test_aws_iam_authorization(server, apigw, echo):
    api_id = apigw.create_rest_api(name="iam")["id"]
    resource = method(apigw, api_id, "/iam", "GET", authorizationType="AWS_IAM")
    apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod="GET", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=lambda_uri(echo))
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    target = url(server, api_id, "prod", "/iam")

    def signed(secret: str) -> dict[str, str]:
        request = AWSRequest(method="GET", url=target,
                             headers={"x-amz-date": dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")})
        SigV4Auth(Credentials("test", secret), "execute-api", "us-east-1").add_auth(request)
        return {k: v for k, v in request.headers.items() if k.lower() != "host"}

    unsigned = call(target)
    assert (unsigned.status, unsigned.json()) == (403, {"message": "Missing Authentication Token"})
    assert call(target, headers=signed("wrong")).status == 403
    reply = call(target, headers=signed("test"))
    assert reply.status == 200, reply.body
    identity = reply.json()["requestContext"]["identity"]
    assert identity["accessKey"] == "test" and identity["userArn"] == "arn:aws:iam::000000000000:root"


def test_s3_object_integration(server, apigw):
    s3 = server.client("s3")
    bucket = f"rest-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    api_id = apigw.create_rest_api(name="files", binaryMediaTypes=["image/png"])["id"]
    for verb in ("GET", "PUT"):
        resource = method(apigw, api_id, "/files/{name}", verb,
                          requestParameters={"method.request.path.name": True})
        apigw.put_integration(
            restApiId=api_id, resourceId=resource, httpMethod=verb, type="AWS", integrationHttpMethod=verb,
            uri=f"arn:aws:apigateway:us-east-1:s3:path/{bucket}/{{key}}",
            requestParameters={"integration.request.path.key": "method.request.path.name"})
        apigw.put_integration_response(
            restApiId=api_id, resourceId=resource, httpMethod=verb, statusCode="200",
            responseParameters={"method.response.header.Content-Type": "integration.response.header.Content-Type"})
        apigw.put_integration_response(restApiId=api_id, resourceId=resource, httpMethod=verb, statusCode="404",
                                       selectionPattern="404")
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    image = bytes(range(256))
    stored = call(url(server, api_id, "prod", "/files/pic.png"), method="PUT", body=image,
                  headers={"content-type": "image/png"})
    assert stored.status == 200, stored.body
    assert s3.get_object(Bucket=bucket, Key="pic.png")["Body"].read() == image
    fetched = call(url(server, api_id, "prod", "/files/pic.png"))
    assert (fetched.status, fetched.body, fetched.header("content-type")) == (200, image, "image/png")
    assert call(url(server, api_id, "prod", "/files/missing.png")).status == 404
