"""Malformed requests thrown at a live server: always a 4xx with an AWS error body, never a crash."""

from __future__ import annotations

import http.client
import json
from urllib.parse import quote
from xml.etree import ElementTree as ET

import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server import CumuloServer

SESSION = botocore.session.get_session()
JSON_SERVICES = {"logs": SESSION.get_service_model("logs")}
LAMBDA = SESSION.get_service_model("lambda")
REST_PATHS = sorted({op.http["requestUri"].split("?")[0] for op in map(LAMBDA.operation_model, LAMBDA.operation_names)})


def _not_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return True
    return False


garbage_json = st.binary(min_size=1, max_size=200).map(lambda b: b"{" + b).filter(_not_json)
wrong_types = st.sampled_from([
    ("CreateLogGroup", {"logGroupName": 5}),
    ("CreateLogGroup", {"logGroupName": ["a"]}),
    ("DescribeLogGroups", {"limit": "many"}),
    ("DescribeLogGroups", {"limit": 1.5}),
    ("PutLogEvents", {"logGroupName": "g", "logStreamName": "s", "logEvents": {"not": "a list"}}),
    ("PutLogEvents", {"logGroupName": "g", "logStreamName": "s", "logEvents": [{"timestamp": "x", "message": 1}]}),
    ("GetLogEvents", {"logGroupName": "g", "logStreamName": "s", "startFromHead": "yes"}),
    ("DescribeLogGroups", {"limit": 0}),
    ("DescribeLogGroups", {"limit": 51}),
    ("CreateLogGroup", {}),
    ("PutRetentionPolicy", {"logGroupName": "g"}),
])
json_ops = st.sampled_from(sorted(JSON_SERVICES["logs"].operation_names))


@st.composite
def malformed_requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes]:
    kind = draw(st.sampled_from(["garbage-json", "wrong-type", "unknown-target", "unknown-action",
                                 "random-path", "rest-garbage", "not-an-object"]))
    json_headers = {"Content-Type": "application/x-amz-json-1.1"}
    if kind == "garbage-json":
        op = draw(json_ops)
        return "POST", "/", {**json_headers, "X-Amz-Target": f"Logs_20140328.{op}"}, draw(garbage_json)
    if kind == "not-an-object":
        op = draw(json_ops)
        body = json.dumps(draw(st.one_of(st.integers(), st.text(), st.lists(st.integers())))).encode()
        return "POST", "/", {**json_headers, "X-Amz-Target": f"Logs_20140328.{op}"}, body
    if kind == "wrong-type":
        op, body = draw(wrong_types)
        return "POST", "/", {**json_headers, "X-Amz-Target": f"Logs_20140328.{op}"}, json.dumps(body).encode()
    if kind == "unknown-target":
        target = draw(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30))
        return "POST", "/", {**json_headers, "X-Amz-Target": f"Nope_{target}.Op"}, b"{}"
    if kind == "unknown-action":
        action = draw(st.from_regex(r"[A-Z][a-zA-Z]{3,20}", fullmatch=True))
        return "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, f"Action=X{action}".encode()
    if kind == "rest-garbage":
        path = draw(st.sampled_from([p for p in REST_PATHS if "{" not in p] or ["/2015-03-31/functions"]))
        auth = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, "
                "SignedHeaders=host, Signature=00")
        body = draw(st.binary(min_size=1, max_size=100)).lstrip(b" ") or b"x"
        return "POST", path, {"Authorization": auth, "Content-Type": "application/json"}, b"[" + body
    segment = draw(st.text(st.characters(whitelist_categories=("Ll", "Nd")), min_size=1, max_size=12))
    return draw(st.sampled_from(["GET", "PUT", "DELETE", "PATCH"])), f"/{quote(segment)}/x", {}, b""


def _is_aws_error(body: bytes, content_type: str) -> bool:
    if "xml" in content_type:
        root = ET.fromstring(body)
        return root.find(".//Code") is not None or root.find(".//{*}Code") is not None
    document = json.loads(body)
    return "__type" in document or "message" in document or "Message" in document


@pytest.fixture(scope="module")
def connection(server: CumuloServer):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    yield conn
    conn.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=malformed_requests())
def test_malformed_requests_get_4xx_with_an_aws_error_body(server, connection, request):
    method, path, headers, body = request
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    assert 400 <= response.status < 500, (response.status, payload[:300])
    assert _is_aws_error(payload, response.getheader("Content-Type", "")), payload[:300]
    assert b"Traceback" not in payload


def test_server_is_healthy_after_the_fuzzing(server):
    assert server.health()["status"] == "running"
    assert "Traceback" not in server.log()
