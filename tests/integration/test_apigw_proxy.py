"""HTTP APIs in front of real Lambda functions: endpoints, routing, payload formats 1.0 and 2.0,
responses, binary bodies, errors and timeouts, stages and stage variables."""

from __future__ import annotations

import base64
import json

import pytest

from tests.integration.test_apigw_support import ECHO, call, deploy, http_api, lambda_uri, route_to_lambda
from tests.server import wait_for


@pytest.fixture(scope="module")
def gw(server):
    return server.client("apigatewayv2")


@pytest.fixture(scope="module")
def echo(server):
    return deploy(server.client("lambda", read_timeout=70), ECHO)


@pytest.fixture(scope="module")
def quick(gw, echo):
    """A quick-created API: $default route, $default stage with AutoDeploy."""
    return gw.create_api(Name="quick", ProtocolType="HTTP", Target=echo)


@pytest.fixture(scope="module")
def routed(gw, echo):
    """An API with one route per routing rule and a $default stage."""
    api = http_api(gw)
    api_id = api["ApiId"]
    for key in ("GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default",
                "POST /items", "ANY /items", "GET /", "GET /users/{user}/orders/{order}"):
        route_to_lambda(gw, api_id, key, echo)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return api


def test_quick_create_endpoint_works_as_returned(quick):
    reply = call(quick["ApiEndpoint"] + "/anything/here?x=1")
    assert reply.status == 200
    event = reply.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/anything/here"
    assert event["requestContext"]["stage"] == "$default"
    assert reply.header("apigw-requestid") == event["requestContext"]["requestId"]
    assert reply.header("content-type") == "application/json"


def test_host_style_endpoint(server, quick):
    host = f"{quick['ApiId']}.execute-api.localhost:{server.port}"
    reply = call(f"{server.url}/host/style", host=host)
    assert reply.status == 200
    event = reply.json()
    assert event["rawPath"] == "/host/style"
    assert event["requestContext"]["domainName"] == host
    assert event["requestContext"]["domainPrefix"] == quick["ApiId"]
    # the AWS form of the host works too
    reply = call(f"{server.url}/aws/form", host=f"{quick['ApiId']}.execute-api.us-east-1.amazonaws.com")
    assert reply.json()["rawPath"] == "/aws/form"


def test_unknown_api_and_aws_requests_unaffected(server, gw):
    reply = call(f"{server.url}/_api/doesnotexist/x")
    assert (reply.status, reply.json()) == (404, {"message": "Not Found"})
    assert gw.get_apis()["Items"] is not None  # the AWS API on the same port still answers


@pytest.mark.parametrize(("method", "path", "route_key", "params"), [
    ("GET", "/pets/dog/1", "GET /pets/dog/1", None),
    ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
    ("GET", "/pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
    ("POST", "/pets/dog/1", "ANY /{proxy+}", {"proxy": "pets/dog/1"}),
    ("GET", "/test", "ANY /{proxy+}", {"proxy": "test"}),
    ("POST", "/items", "POST /items", None),
    ("DELETE", "/items", "ANY /items", None),
    ("GET", "/", "GET /", None),
    ("POST", "/", "$default", None),
    ("GET", "/users/a%20b/orders/42", "GET /users/{user}/orders/{order}", {"user": "a b", "order": "42"}),
])
def test_most_specific_route_wins(routed, method, path, route_key, params):
    reply = call(routed["ApiEndpoint"] + path, method=method)
    assert reply.status == 200, reply.body
    event = reply.json()
    assert event["routeKey"] == route_key
    assert event.get("pathParameters") == params
    assert event["rawPath"] == path


def test_no_route_is_404(gw, echo):
    api = http_api(gw)
    route_to_lambda(gw, api["ApiId"], "GET /only", echo)
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    reply = call(api["ApiEndpoint"] + "/other")
    assert (reply.status, reply.json()) == (404, {"message": "Not Found"})
    assert call(api["ApiEndpoint"] + "/only", method="POST").status == 404
    assert call(api["ApiEndpoint"] + "/only").status == 200


def test_payload_v2_headers_query_cookies_and_body(quick):
    reply = call(quick["ApiEndpoint"] + "/p?a=1&a=2&b=&c=%20x", method="POST", body='{"k": "v"}',
                 headers={"Content-Type": "application/json", "Cookie": "s=1; t=2", "User-Agent": "tester"},
                 extra_headers=[("X-Dup", "one"), ("X-Dup", "two")])
    event = reply.json()
    assert event["rawQueryString"] == "a=1&a=2&b=&c=%20x"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "", "c": " x"}
    assert event["headers"]["x-dup"] == "one,two"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    http = event["requestContext"]["http"]
    assert http == {"method": "POST", "path": "/p", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                    "userAgent": "tester"}
    context = event["requestContext"]
    assert context["accountId"] == "000000000000" and context["apiId"] == quick["ApiId"]
    assert isinstance(context["timeEpoch"], int) and context["time"].endswith("+0000")
    assert "pathParameters" not in event and "stageVariables" not in event


def test_payload_v1_event(gw, echo):
    api = http_api(gw)
    route_to_lambda(gw, api["ApiId"], "POST /v1/{id}", echo, version="1.0")
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    reply = call(api["ApiEndpoint"] + "/v1/7?a=1&a=2&b=3", method="POST", body="text body",
                 headers={"Content-Type": "text/plain"}, extra_headers=[("X-Dup", "one"), ("X-Dup", "two")])
    assert reply.status == 200
    event = reply.json()
    assert event["version"] == "1.0"
    assert event["resource"] == "/v1/{id}" and event["path"] == "/v1/7" and event["httpMethod"] == "POST"
    assert event["multiValueHeaders"]["x-dup"] == ["one", "two"]
    assert event["headers"]["x-dup"] == "two"
    assert event["queryStringParameters"] == {"a": "2", "b": "3"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["3"]}
    assert event["pathParameters"] == {"id": "7"}
    assert event["stageVariables"] is None
    assert event["body"] == "text body" and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["httpMethod"] == "POST" and context["resourcePath"] == "/v1/{id}"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["stage"] == "$default" and context["requestId"] == reply.header("apigw-requestid")


def test_v1_response_requires_status_code(gw, echo):
    api = http_api(gw)
    route_to_lambda(gw, api["ApiId"], "$default", echo, version="1.0")
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    reply = call(api["ApiEndpoint"] + "/x", headers={"x-mode": "shortcut"})
    assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"})
    multi = call(api["ApiEndpoint"] + "/x", headers={"x-mode": "multi"})
    assert multi.status == 200 and multi.all("x-multi") == ["a", "b"] and multi.header("x-single") == "s"


@pytest.mark.parametrize(("mode", "status", "content_type", "body"), [
    ("shortcut", 200, "application/json", {"hello": "world", "path": "/r"}),
    ("string", 200, "application/json", "Hello from Lambda!"),
    ("plain", 202, "application/json", "no content type"),
])
def test_v2_response_shortcuts(quick, mode, status, content_type, body):
    reply = call(quick["ApiEndpoint"] + "/r", headers={"x-mode": mode})
    assert reply.status == status
    assert reply.header("content-type") == content_type
    assert (reply.json() if mode == "shortcut" else reply.body.decode()) == body


def test_v2_cookies_and_headers(quick):
    reply = call(quick["ApiEndpoint"] + "/c", headers={"x-mode": "cookies"})
    assert reply.status == 201
    assert reply.all("set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    assert reply.header("x-single") == "one" and reply.header("x-number") == "7"
    assert reply.body == b"cookies"


def test_binary_request_and_response_bodies(quick):
    payload = bytes(range(256)) * 4
    reply = call(quick["ApiEndpoint"] + "/bin", method="PUT", body=payload,
                 headers={"Content-Type": "application/octet-stream"})
    event = reply.json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload
    # form posts and bodies without a content type are binary to HTTP APIs too
    form = call(quick["ApiEndpoint"] + "/f", method="POST", body="a=1&b=2",
                headers={"Content-Type": "application/x-www-form-urlencoded"}).json()
    assert form["isBase64Encoded"] is True and base64.b64decode(form["body"]) == b"a=1&b=2"
    # invalid UTF-8 in a text type is base64-encoded rather than mangled
    latin = call(quick["ApiEndpoint"] + "/t", method="POST", body=b"caf\xe9", headers={"Content-Type": "text/plain"})
    assert latin.json()["isBase64Encoded"] is True
    binary = call(quick["ApiEndpoint"] + "/b", headers={"x-mode": "binary"})
    assert binary.status == 200 and binary.body == bytes(range(256))
    assert binary.header("content-type") == "application/octet-stream"


def test_function_errors_malformed_responses_and_missing_functions(gw, quick, echo):
    error = call(quick["ApiEndpoint"] + "/e", headers={"x-mode": "error"})
    assert (error.status, error.json()) == (500, {"message": "Internal Server Error"})
    assert error.header("apigw-requestid")
    malformed = call(quick["ApiEndpoint"] + "/m", headers={"x-mode": "malformed"})
    assert (malformed.status, malformed.json()) == (500, {"message": "Internal Server Error"})
    api = http_api(gw)
    route_to_lambda(gw, api["ApiId"], "$default", echo.replace(echo.split(":")[-1], "no-such-function"))
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    missing = call(api["ApiEndpoint"] + "/x")
    assert (missing.status, missing.json()) == (500, {"message": "Internal Server Error"})


def test_integration_timeout_is_503(gw, echo):
    api = http_api(gw)
    integration = gw.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=echo,
                                        PayloadFormatVersion="2.0", TimeoutInMillis=300)
    assert integration["TimeoutInMillis"] == 300
    gw.create_route(ApiId=api["ApiId"], RouteKey="$default", Target=f"integrations/{integration['IntegrationId']}")
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    call(api["ApiEndpoint"] + "/warm")  # a warm environment, so the timeout measures the function alone
    reply = call(api["ApiEndpoint"] + "/slow?mode=sleep&seconds=3")
    assert (reply.status, reply.json()) == (503, {"message": "Service Unavailable"})


def test_named_stages_variables_and_deployments(gw, echo):
    api = http_api(gw)
    api_id = api["ApiId"]
    route_to_lambda(gw, api_id, "GET /v", echo)
    # a stage without AutoDeploy serves the deployment it points at, not later changes
    deployment = gw.create_deployment(ApiId=api_id, Description="first")
    assert deployment["DeploymentStatus"] == "DEPLOYED" and deployment["AutoDeployed"] is False
    gw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=deployment["DeploymentId"],
                    StageVariables={"color": "blue"})
    reply = call(api["ApiEndpoint"] + "/prod/v")
    event = reply.json()
    assert event["rawPath"] == "/prod/v" and event["requestContext"]["http"]["path"] == "/prod/v"
    assert event["requestContext"]["stage"] == "prod"
    assert event["stageVariables"] == {"color": "blue"}
    route_to_lambda(gw, api_id, "GET /w", echo)
    assert call(api["ApiEndpoint"] + "/prod/w").status == 404  # not deployed yet
    gw.create_deployment(ApiId=api_id, StageName="prod")
    assert call(api["ApiEndpoint"] + "/prod/w").status == 200
    # stage variables apply at once, without a deployment
    gw.update_stage(ApiId=api_id, StageName="prod", StageVariables={"color": "green"})
    assert call(api["ApiEndpoint"] + "/prod/v").json()["stageVariables"] == {"color": "green"}
    # no $default stage: paths that name no stage are not found
    assert call(api["ApiEndpoint"] + "/v").status == 404


def test_stage_variables_in_integration_uri(gw, echo):
    api = http_api(gw)
    uri = lambda_uri(echo.rsplit(":", 1)[0] + ":${stageVariables.fn}")
    integration = gw.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=uri,
                                        PayloadFormatVersion="2.0")
    gw.create_route(ApiId=api["ApiId"], RouteKey="$default", Target=f"integrations/{integration['IntegrationId']}")
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True,
                    StageVariables={"fn": echo.rsplit(":", 1)[1]})
    reply = call(api["ApiEndpoint"] + "/sv")
    assert reply.status == 200 and reply.json()["stageVariables"] == {"fn": echo.rsplit(":", 1)[1]}


def test_auto_deploy_picks_up_changes(gw, echo):
    api = http_api(gw)
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    assert call(api["ApiEndpoint"] + "/new").status == 404
    route_to_lambda(gw, api["ApiId"], "GET /new", echo)
    assert call(api["ApiEndpoint"] + "/new").status == 200
    stage = gw.get_stage(ApiId=api["ApiId"], StageName="$default")
    assert stage["LastDeploymentStatusMessage"] == (
        f"Successfully deployed stage with deployment ID '{stage['DeploymentId']}'")
    deployment = gw.get_deployment(ApiId=api["ApiId"], DeploymentId=stage["DeploymentId"])
    assert deployment["AutoDeployed"] is True


def test_disable_execute_api_endpoint(gw, echo):
    api = http_api(gw)
    route_to_lambda(gw, api["ApiId"], "$default", echo)
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    assert call(api["ApiEndpoint"] + "/x").status == 200
    gw.update_api(ApiId=api["ApiId"], DisableExecuteApiEndpoint=True)
    reply = call(api["ApiEndpoint"] + "/x")
    assert (reply.status, reply.json()) == (403, {"message": "Forbidden"})


def test_custom_domain_name_with_api_mappings(server, gw, echo):
    api = http_api(gw)
    route_to_lambda(gw, api["ApiId"], "ANY /{proxy+}", echo)
    gw.create_stage(ApiId=api["ApiId"], StageName="live", AutoDeploy=True)
    gw.create_domain_name(DomainName="api.example.test")
    mapping = gw.create_api_mapping(DomainName="api.example.test", ApiId=api["ApiId"], Stage="live",
                                    ApiMappingKey="v1")
    assert mapping["ApiMappingKey"] == "v1"
    reply = call(f"{server.url}/v1/orders/3", host="api.example.test")
    assert reply.status == 200
    event = reply.json()
    assert event["rawPath"] == "/v1/orders/3" and event["pathParameters"] == {"proxy": "orders/3"}
    assert event["requestContext"]["stage"] == "live"
    assert call(f"{server.url}/v2/orders/3", host="api.example.test").status == 404
    gw.delete_domain_name(DomainName="api.example.test")
    wait_for(lambda: call(f"{server.url}/v1/orders/3", host="api.example.test").status != 200)


def test_head_requests_and_large_bodies(quick):
    body = json.dumps({"data": "x" * 200_000})
    reply = call(quick["ApiEndpoint"] + "/big", method="POST", body=body, headers={"Content-Type": "application/json"})
    assert json.loads(reply.json()["body"]) == json.loads(body)
    head = call(quick["ApiEndpoint"] + "/h", method="HEAD")
    assert head.status == 200 and head.body == b""


def test_apis_survive_kill_9(tmp_path):
    import signal

    from tests.server import CumuloServer

    first = CumuloServer(tmp_path / "data").start()
    try:
        function = deploy(first.client("lambda", read_timeout=70), ECHO, name="survivor")
        gw = first.client("apigatewayv2")
        api = http_api(gw)
        route_to_lambda(gw, api["ApiId"], "GET /still/{here}", function)
        gw.create_stage(ApiId=api["ApiId"], StageName="live", AutoDeploy=True, StageVariables={"v": "1"})
        assert call(api["ApiEndpoint"] + "/live/still/x").status == 200
    finally:
        first.stop(signal.SIGKILL)
    second = CumuloServer(tmp_path / "data", port=first.port).start()
    try:
        reply = call(api["ApiEndpoint"] + "/live/still/y")
        assert reply.status == 200, reply.body
        assert reply.json()["pathParameters"] == {"here": "y"} and reply.json()["stageVariables"] == {"v": "1"}
    finally:
        second.stop()
