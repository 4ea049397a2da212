"""Pure logic of the HTTP API data plane: route keys and selection, mapping expressions, CORS,
IAM policy evaluation, proxy responses, access-log rendering, throttling buckets, OpenAPI parsing."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.httpapi.accesslog import render
from cumulo.httpapi.authorizers import claim_text, policy_allows
from cumulo.httpapi.call import Call, request_id
from cumulo.httpapi.mapping import Response, evaluate, json_path
from cumulo.httpapi.router import Router
from cumulo.httpapi.views import TokenBucket
from cumulo.protocol import cors
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest
from cumulo.protocol.lambda_proxy import MalformedResponse, clf_time, is_text, parse_response
from cumulo.services.apigatewayv2.openapi import parse_definition
from cumulo.services.apigatewayv2.routekeys import RouteKeyError, parse_route_key


# ---------------------------------------------------------------- route keys and selection
@pytest.mark.parametrize("key", ["$default", "GET /", "ANY /{proxy+}", "POST /a/{b}/c", "DELETE /a.b/{c-d}"])
def test_valid_route_keys(key):
    parse_route_key(key)


@pytest.mark.parametrize("key", ["GET", "get /x", "GET x", "GET /a/{p+}/b", "GET /{a}/{a}", "GET /a//b",
                                 "GET /a/", "GET /x{y}", "TRACE /x", "GET /a b"])
def test_invalid_route_keys(key):
    with pytest.raises(RouteKeyError):
        parse_route_key(key)


ROUTES = ["GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default",
          "ANY /pets", "GET /{a}/{b}/{c}", "GET /", "POST /pets"]


@pytest.mark.parametrize(("method", "path", "expected", "params"), [
    ("GET", "/pets/dog/1", "GET /pets/dog/1", {}),
    ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
    ("GET", "/pets/cat/1", "GET /{a}/{b}/{c}", {"a": "pets", "b": "cat", "c": "1"}),  # full match beats greedy
    ("GET", "/pets/cat/1/2", "GET /pets/{proxy+}", {"proxy": "cat/1/2"}),
    ("PUT", "/pets/cat/1", "ANY /{proxy+}", {"proxy": "pets/cat/1"}),
    ("GET", "/pets", "ANY /pets", {}),
    ("POST", "/pets", "POST /pets", {}),
    ("GET", "/", "GET /", {}),
    ("POST", "/", "$default", {}),
    ("GET", "/pets/", "ANY /{proxy+}", {"proxy": "pets/"}),
    ("GET", "/a%2Fb/c/d", "GET /{a}/{b}/{c}", {"a": "a/b", "b": "c", "c": "d"}),
])
def test_route_selection(method, path, expected, params):
    router = Router([(key, key) for key in ROUTES])
    match = router.match(method, path)
    assert match is not None and match.route_key == expected
    assert match.path_parameters == params


def test_no_match_without_default():
    router = Router([("GET /a", 1), ("$connect", 2)])  # keys of other protocols are ignored
    assert router.match("GET", "/b") is None
    assert router.match("POST", "/a") is None


@given(st.lists(st.sampled_from(ROUTES), unique=True, min_size=1),
       st.sampled_from(["GET", "POST", "PUT"]),
       st.lists(st.sampled_from(["pets", "dog", "1", "x"]), max_size=4))
def test_selection_is_independent_of_route_order(keys, method, segments):
    path = "/" + "/".join(segments)
    forward = Router([(k, k) for k in keys]).match(method, path)
    backward = Router([(k, k) for k in reversed(keys)]).match(method, path)
    assert (forward and forward.route_key) == (backward and backward.route_key)


# ---------------------------------------------------------------- mapping expressions
def fake_call(**overrides):
    request = HttpRequest("POST", "/prod/items/7", "q=1&q=2&x=y",
                          {"host": "h", "x-token": "t", "content-type": "application/json"},
                          json.dumps({"a": {"b": [10, {"c": "deep"}]}, "s": "str"}).encode())
    stage = SimpleNamespace(name="prod", variables={"color": "blue"},
                            api=SimpleNamespace(api_id="abc", account="000000000000", region="us-east-1"),
                            base_path_matched=None)
    call = Call(request=request, stage=stage, raw_path="/prod/items/7", path="/items/7", domain_name="h",
                domain_prefix="abc")
    call.path_parameters = {"id": "7"}
    call.route_key = "POST /items/{id}"
    for name, value in overrides.items():
        setattr(call, name, value)
    return call


@pytest.mark.parametrize(("expression", "value"), [
    ("$request.header.X-Token", "t"),
    ("$request.querystring.q", "1,2"),
    ("$request.path.id", "7"),
    ("$request.path", "/items/7"),
    ("$request.body.s", "str"),
    ("$request.body.a.b[1].c", "deep"),
    ("$request.body.a.b", "[10,{\"c\":\"deep\"}]"),
    ("$request.body.missing", None),
    ("$context.routeKey", "POST /items/{id}"),
    ("$context.stage", "prod"),
    ("$stageVariables.color", "blue"),
    ("static", "static"),
    ("id-${request.path.id}-${stageVariables.color}", "id-7-blue"),
    ("$request.header.absent", None),
])
def test_mapping_expressions(expression, value):
    assert evaluate(expression, fake_call()) == value


def test_response_expressions_and_json_path():
    response = Response(201, {"X-Up": "u"}, b'{"k": [1, 2]}')
    call = fake_call()
    assert evaluate("$response.statuscode", call, response) == "201"
    assert evaluate("$response.header.x-up", call, response) == "u"
    assert evaluate("$response.body.k[1]", call, response) == "2"
    assert json_path({"a b": 1}, "['a b']") == 1
    assert json_path([1], "x") is None


# ---------------------------------------------------------------- CORS
CORS = {"AllowOrigins": ["https://a.example", "https://*.b.example"], "AllowMethods": ["GET"],
        "AllowHeaders": ["X-Custom"], "MaxAge": 5, "ExposeHeaders": ["X-E"]}


def preflight(origin, method="GET"):
    return HttpRequest("OPTIONS", "/", headers={"origin": origin, "access-control-request-method": method})


def test_cors_preflight_rules():
    assert cors.is_preflight(preflight("https://a.example"))
    assert not cors.is_preflight(HttpRequest("OPTIONS", "/", headers={"origin": "x"}))
    headers = cors.preflight_headers(CORS, preflight("https://A.example"))
    assert headers["access-control-allow-origin"] == "https://A.example"
    assert headers["access-control-allow-headers"] == "x-custom" and headers["access-control-max-age"] == "5"
    assert cors.preflight_headers(CORS, preflight("https://x.b.example"))
    assert cors.preflight_headers(CORS, preflight("https://x.y.b.example")) == {}
    assert cors.preflight_headers(CORS, preflight("https://a.example", "PUT")) == {}
    assert cors.allowed_origin({"AllowOrigins": ["*"]}, "https://z") == "*"
    assert cors.allowed_origin({"AllowOrigins": ["*"], "AllowCredentials": True}, "https://z") == "https://z"
    response = cors.response_headers(CORS, HttpRequest("GET", "/", headers={"origin": "https://a.example"}))
    assert response == {"access-control-allow-origin": "https://a.example", "access-control-expose-headers": "x-e"}


# ---------------------------------------------------------------- IAM policies
ARN = "arn:aws:execute-api:us-east-1:000000000000:abc/prod/GET/pets/1"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize(("document", "allowed"), [
    (policy({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN}), True),
    (policy({"Effect": "Allow", "Action": "execute-api:*", "Resource": "arn:aws:execute-api:*:*:abc/*"}), True),
    (policy({"Effect": "Allow", "Action": ["execute-api:Invoke"], "Resource": ["arn:*:abc/prod/GET/pets/?"]}), True),
    (policy({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:*:abc/prod/POST/*"}), False),
    (policy({"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": ARN}), False),
    (policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}), False),
    (policy(), False),
    ("not a policy", False),
])
def test_policy_evaluation(document, allowed):
    assert policy_allows(document, ARN) is allowed


def test_claims_as_strings():
    assert claim_text(["a", "b"]) == "[a b]" and claim_text(True) == "true" and claim_text(12.0) == "12"
    assert claim_text({"k": 1}) == '{"k":1}'


# ---------------------------------------------------------------- proxy responses
def test_v2_shortcut_and_structured_responses():
    assert parse_response(b'{"a": 1}', "2.0").body == b'{"a": 1}'
    assert parse_response(b'"text"', "2.0").body == b"text"
    assert parse_response(b"[1, 2]", "2.0").headers == {"content-type": "application/json"}
    structured = parse_response(json.dumps({
        "statusCode": 201, "headers": {"X-A": "1", "Content-Length": "999", "X-U": "é"}, "cookies": ["c=1"],
        "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}).encode(), "2.0")
    assert structured.status == 201 and structured.body == b"\x00\x01"
    assert "content-length" not in structured.headers and structured.headers["x-a"] == "1"
    assert structured.headers["x-u"].encode("latin-1").decode("utf-8") == "é"
    assert structured.extra_headers == [("set-cookie", "c=1")]


@pytest.mark.parametrize(("payload", "version"), [
    (b'{"body": "x"}', "1.0"), (b'"x"', "1.0"), (b'{"statusCode": "abc"}', "2.0"),
    (b'{"statusCode": 200, "body": {"json": true}}', "2.0"), (b"not json", "2.0"),
    (b'{"statusCode": 200, "isBase64Encoded": "maybe"}', "1.0"), (b'{"statusCode": 200, "headers": {"a": [1]}}', "2.0"),
])
def test_malformed_responses(payload, version):
    with pytest.raises(MalformedResponse):
        parse_response(payload, version)


def test_lenient_members():
    response = parse_response(b'{"statusCode": 200, "extra": 1, "isBase64Encoded": "false", "body": "x"}', "1.0")
    assert response.body == b"x" and response.headers == {"content-type": "application/json"}
    assert parse_response(b'{"statusCode": "201", "body": "eA==", "isBase64Encoded": "true"}', "2.0").body == b"x"


def test_text_content_types():
    assert is_text("application/json; charset=utf-8") and is_text("text/csv") and is_text("application/hal+json")
    assert not is_text("application/octet-stream") and not is_text("") and not is_text("image/png")
    assert not is_text("application/x-www-form-urlencoded")


# ---------------------------------------------------------------- access logs, ids, buckets
def test_access_log_rendering():
    call = fake_call(status=204, integration_latency=3)
    line = render('{"id":"$context.requestId","s":$context.status,"l":"$context.integrationLatency",'
                  '"e":"$context.error.message","v":"$context.authorizer.claims.sub"} $context.httpMethod', call)
    document, method = line.rsplit(" ", 1)
    assert json.loads(document) == {"id": call.request_id, "s": 204, "l": "3", "e": "-", "v": "-"}
    assert method == "POST"


def test_request_ids_and_times():
    ids = {request_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 16 and i.endswith("=") for i in ids)
    assert clf_time(0) == "01/Jan/1970:00:00:00 +0000"


def test_token_bucket():
    bucket = TokenBucket(rate=1000.0, burst=2)
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    bucket.updated -= 0.01  # as if 10 ms had passed: 10 tokens at 1000/s, capped at the burst of 2
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    closed = TokenBucket(rate=0.0, burst=0)
    assert not closed.take()


# ---------------------------------------------------------------- OpenAPI import
def test_openapi_swagger2_and_yaml():
    plan = parse_definition("""
swagger: "2.0"
info: {title: legacy, version: "1"}
basePath: /base
paths:
  /a/{id}:
    get:
      x-amazon-apigateway-integration: {type: http_proxy, httpMethod: GET, uri: "https://b.example/{id}"}
""", "prepend", False)
    assert [r.route_key for r in plan.routes] == ["GET /base/a/{id}"]
    integration = next(iter(plan.integrations.values()))
    assert integration["IntegrationType"] == "HTTP_PROXY" and integration["IntegrationUri"] == "https://b.example/{id}"


@pytest.mark.parametrize("body", ['{"openapi": "3.0.1"}', "openapi: 3.0.1\ninfo: {version: 1}\n", "[]",
                                  '{"openapi": "3.0.1", "info": {"title": "t"}, "paths": {"/a": {'
                                  '"get": {}, "x-amazon-apigateway-any-method": {}}, "/b": {"get": {'
                                  '"x-amazon-apigateway-integration": {"$ref": "#/components/nope"}}}}}'])
def test_openapi_errors(body):
    with pytest.raises(AwsError) as excinfo:
        parse_definition(body, None, False)
    assert excinfo.value.code == "BadRequestException"


# ---------------------------------------------------------------- invoke URLs
@pytest.mark.parametrize(("style", "base", "websocket", "expected"), [
    ("path", "http://127.0.0.1:4566", False, "http://127.0.0.1:4566/_api/abc"),
    ("path", "http://localhost:9000", True, "ws://localhost:9000/_api/abc"),
    ("host", "http://127.0.0.1:4566", False, "http://abc.execute-api.localhost:4566"),
    ("host", "http://[::1]:4566", False, "http://abc.execute-api.localhost:4566"),
    ("host", "http://example.test", False, "http://abc.execute-api.localhost"),
])
def test_invoke_urls(style, base, websocket, expected):
    from cumulo.services.apigatewayv2.addresses import invoke_url

    settings = SimpleNamespace(http_api_endpoint=style, http_api_domain="execute-api.localhost")
    assert invoke_url(settings, "abc", base, websocket=websocket) == expected
