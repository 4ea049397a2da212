"""Malformed requests thrown at a live server: always a 4xx with an AWS error body, never a crash.

The protocol decoders (json, rest-json, rest-xml, query, SQS's query, aws-chunked bodies) are also
fuzzed directly, each for a bounded number of examples, with a timeout that turns a hang into a
failure: every input is either read or refused with an ``AwsError`` whose status is 4xx."""

from __future__ import annotations

import functools
import http.client
import json
from typing import Any
from urllib.parse import quote, urlencode
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest
from cumulo.protocol.protocols import PROTOCOLS, Protocol, error_status
from cumulo.protocol.rest_binding import input_binding
from cumulo.protocol.sqs_wire import SQS_JSON, SQS_QUERY, legacy_model
from cumulo.protocol.validate import validate
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
                                 "random-path", "rest-garbage", "not-an-object", "deep-json", "sqs-query"]))
    json_headers = {"Content-Type": "application/x-amz-json-1.1"}
    if kind == "deep-json":
        op, depth = draw(json_ops), draw(st.integers(129, 3000))
        body = b'{"logGroupName":"g","x":' + b"[" * depth + b"]" * depth + b"}"
        return "POST", "/", {**json_headers, "X-Amz-Target": f"Logs_20140328.{op}"}, body
    if kind == "sqs-query":
        action = draw(st.sampled_from(["SendMessage", "ReceiveMessage", "CreateQueue", "SetQueueAttributes",
                                       "SendMessageBatch", "DeleteMessageBatch"]))
        key = st.lists(st.sampled_from(["Attribute", "MessageAttribute", "SendMessageBatchRequestEntry", "Name",
                                        "Value", "StringValue", "DataType", "1", "0", "-1", "x"]),
                       min_size=1, max_size=5).map(".".join)
        pairs = draw(st.lists(st.tuples(key, st.text(max_size=8)), max_size=8))
        form = [("Action", action), ("QueueUrl", "http://localhost/000000000000/none"), *pairs]
        return "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(form).encode()
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


# --- the decoders, without a server ---------------------------------------------------------------------
DECODER_SETTINGS = settings(max_examples=100, deadline=None)
FUZZ_TIMEOUT = pytest.mark.timeout(60)  # a decoder that loops forever fails here rather than hanging CI


@functools.cache
def _member_names(model) -> list[str]:
    names = set()
    for name in model.shape_names:
        shape = model.shape_for(name)
        for member_name, member in getattr(shape, "members", {}).items():
            names.update((member_name, member.serialization.get("name", member_name)))
    return sorted(names)


@functools.cache
def _operations(model) -> list:
    """The model's operations that take input."""
    operations = [model.operation_model(name) for name in model.operation_names]
    return [op for op in operations if op.input_shape is not None]


def _decoded_or_refused(protocol: Protocol, operation, request: HttpRequest,
                        labels: dict[str, str] | None = None) -> None:
    """The front end's reading of a request: parse, then validate against the model."""
    try:
        params = protocol.parse(request, operation, labels)
        problems = validate(operation.input_shape, params)
    except AwsError as error:
        assert 400 <= error_status(operation.service_model, error) < 500, error
    else:
        assert isinstance(params, dict) and isinstance(problems, list)


def _json_values(names: list[str]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(names) | st.text(max_size=6)
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | st.sampled_from(
        ["NaN", "Infinity", "2026-01-01T00:00:00Z", "bm90IGJhc2U2NA==", "not base64!"])
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
                        max_leaves=25)


def _nested(depth: int, opener: bytes, closer: bytes) -> bytes:
    return opener * depth + closer * depth


def _json_bodies(names: list[str]) -> st.SearchStrategy[bytes]:
    documents = st.dictionaries(st.sampled_from(names), _json_values(names), max_size=6)
    return st.one_of(
        documents.map(lambda d: json.dumps(d).encode()),
        documents.map(lambda d: json.dumps(d).encode()).flatmap(
            lambda b: st.integers(0, max(len(b) - 1, 0)).map(lambda cut: b[:cut])),  # truncated
        st.builds(lambda name, depth, bracket: b'{"%s":%s}' % (name.encode(), _nested(depth, *bracket)),
                  st.sampled_from(names), st.integers(100, 5000), st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")])
                  ).map(lambda b: b.replace(b'{"a":}', b'{"a":1}')),
        st.binary(max_size=200),
    )


LOGS_MODEL = SESSION.get_service_model("logs")
SQS_MODEL = SESSION.get_service_model("sqs")
S3_MODEL = SESSION.get_service_model("s3")
SNS_MODEL = SESSION.get_service_model("sns")
SQS_QUERY_MODEL = legacy_model()


@FUZZ_TIMEOUT
@DECODER_SETTINGS
@given(data=st.data())
def test_json_protocol_decoder(data):
    model, protocol = data.draw(st.sampled_from([(LOGS_MODEL, PROTOCOLS["json"]), (SQS_MODEL, SQS_JSON)]))
    operation = data.draw(st.sampled_from(_operations(model)))
    body = data.draw(_json_bodies(_member_names(model)))
    request = HttpRequest("POST", data.draw(st.sampled_from(["/", "/000000000000/q"])),
                          headers={"content-type": "application/x-amz-json-1.0"}, body=body)
    _decoded_or_refused(protocol, operation, request)


def _rest_request(data: st.DataObject, model, operation, body: bytes) -> tuple[HttpRequest, dict[str, str]]:
    """A request for a REST operation with fuzzed labels, query values and headers of its binding."""
    binding = input_binding(operation)
    text = st.text(max_size=10) | st.sampled_from(["-1", "1e99", "true", "2026-13-45", "%%", "99999999999999999999"])
    labels = {wire: data.draw(text) for _, wire, _ in (binding.labels if binding else ())}
    query = {wire: data.draw(text) for _, wire, _ in (binding.query if binding else ())
             if data.draw(st.booleans())}
    headers = {lower: data.draw(text.map(lambda t: t.replace("\r", "").replace("\n", "")))
               for _, lower, _, _ in (binding.headers if binding else ()) if data.draw(st.booleans())}
    return HttpRequest(operation.http.get("method", "POST"), "/", urlencode(query), headers, body), labels


@FUZZ_TIMEOUT
@DECODER_SETTINGS
@given(data=st.data())
def test_rest_json_protocol_decoder(data):
    operation = data.draw(st.sampled_from(_operations(LAMBDA)))
    request, labels = _rest_request(data, LAMBDA, operation, data.draw(_json_bodies(_member_names(LAMBDA))))
    _decoded_or_refused(PROTOCOLS["rest-json"], operation, request, labels)


def _xml_element(names: list[str]) -> st.SearchStrategy[str]:
    tags = st.sampled_from(names)
    leaves = st.builds(lambda tag, text: f"<{tag}>{escape(text)}</{tag}>", tags, st.text(max_size=12))
    return st.recursive(leaves, lambda inner: st.builds(
        lambda tag, children: f"<{tag}>{''.join(children)}</{tag}>", tags, st.lists(inner, max_size=4)),
        max_leaves=20)


@FUZZ_TIMEOUT
@DECODER_SETTINGS
@given(data=st.data())
def test_rest_xml_protocol_decoder(data):
    writes = [op for op in _operations(S3_MODEL) if op.http.get("method") in ("PUT", "POST")]
    operation = data.draw(st.sampled_from(writes))
    names = _member_names(S3_MODEL)
    body = data.draw(st.one_of(
        _xml_element(names).map(str.encode),
        _xml_element(names).map(lambda x: x.encode()[: len(x) // 2]),
        st.integers(100, 5000).map(lambda depth: b"<a>" * depth + b"</a>" * depth),
        st.binary(max_size=200)))
    request, labels = _rest_request(data, S3_MODEL, operation, body)
    _decoded_or_refused(PROTOCOLS["rest-xml"], operation, request, labels)


def _aws_chunked_bodies() -> st.SearchStrategy[bytes]:
    size_text = st.sampled_from(["-6", "-1", "0x5", "+5", "5_0", "", "zz", "ffffffffffffffff"])
    chunk = st.binary(max_size=30).flatmap(lambda payload: st.builds(
        lambda size, signature: b"%s%s\r\n%s\r\n" % (size.encode(), signature, payload),
        st.just(f"{len(payload):x}") | size_text, st.sampled_from([b"", b";chunk-signature=00"])))
    trailer = st.sampled_from([b"", b"0\r\n\r\n", b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
                               b"0\r\n\xff\xfe:\x80\r\n\r\n"])
    return st.builds(lambda chunks, end: b"".join(chunks) + end, st.lists(chunk, max_size=4), trailer) | st.binary(
        max_size=100)


@FUZZ_TIMEOUT
@DECODER_SETTINGS
@given(data=st.data())
def test_aws_chunked_bodies(data):
    operation = S3_MODEL.operation_model(data.draw(st.sampled_from(["PutObject", "UploadPart"])))
    request, labels = _rest_request(data, S3_MODEL, operation, data.draw(_aws_chunked_bodies()))
    request.headers.update({"content-encoding": "aws-chunked",
                            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"})
    _decoded_or_refused(PROTOCOLS["rest-xml"], operation, request, labels)


def _query_bodies(names: list[str]) -> st.SearchStrategy[bytes]:
    segment = st.sampled_from(names) | st.sampled_from(["member", "entry", "key", "value", "Name", "Value",
                                                         "1", "2", "0", "-1", "x", "", "9" * 5000])
    key = st.lists(segment, min_size=1, max_size=6).map(".".join)
    value = st.text(max_size=10) | st.sampled_from(["true", "maybe", "1.5", "-1", "2026-01-01T00:00:00Z", "%%%"])
    pairs = st.lists(st.tuples(key, value), max_size=12)
    return pairs.map(lambda items: urlencode(items).encode()) | st.binary(max_size=100)


@FUZZ_TIMEOUT
@DECODER_SETTINGS
@given(data=st.data())
def test_query_protocol_decoders(data):
    model, protocol = data.draw(st.sampled_from([(SNS_MODEL, PROTOCOLS["query"]), (SQS_QUERY_MODEL, SQS_QUERY)]))
    operation = data.draw(st.sampled_from(_operations(model)))
    body = data.draw(_query_bodies(_member_names(model)))
    request = HttpRequest("POST", data.draw(st.sampled_from(["/", "/000000000000/q"])),
                          headers={"content-type": "application/x-www-form-urlencoded"}, body=body)
    _decoded_or_refused(protocol, operation, request)


def test_xml_entity_expansion_is_refused():
    entities = b"".join(b'<!ENTITY %c "%s">' % (c, (b"&%c;" % (c - 1)) * 10) for c in range(98, 105))
    bomb = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' + entities + b"]><Tagging>&h;</Tagging>"
    operation = S3_MODEL.operation_model("PutBucketTagging")
    with pytest.raises(AwsError) as refused:
        PROTOCOLS["rest-xml"].parse(HttpRequest("PUT", "/", body=bomb), operation, {"Bucket": "b"})
    assert (refused.value.code, error_status(S3_MODEL, refused.value)) == ("MalformedXML", 400)  # S3's code
