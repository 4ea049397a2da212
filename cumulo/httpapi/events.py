"""Lambda proxy payloads of HTTP APIs: the events (formats 1.0 and 2.0) and the function's answer.

Format 2.0 joins repeated headers and query parameters with commas, moves cookies to
``cookies``, omits empty members, and lets a function return any JSON (a result without
``statusCode`` becomes a 200 ``application/json`` response). Format 1.0 has the
``multiValueHeaders``/``multiValueQueryStringParameters`` members and nulls for empty ones, and
requires the structured response. Unknown response members are ignored, as HTTP APIs do; a
response without content-type is sent as ``application/json``.

Bodies that are not text (by content type, or not UTF-8) are base64-encoded with
``isBase64Encoded: true``, as HTTP APIs do; a response with ``isBase64Encoded`` is decoded.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from cumulo.httpapi.call import Call, clf_time, trace_id

_TEXT_TYPES = {"application/json", "application/javascript", "application/xml", "application/graphql",
               "application/x-javascript", "application/ecmascript", "application/xhtml+xml",
               "application/x-ndjson", "application/yaml", "application/x-yaml"}
HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "upgrade", "date",
              "proxy-connection", "trailer", "te"}


class MalformedResponse(ValueError):
    """The function's answer is not a valid proxy response (API Gateway answers 500)."""


@dataclass
class ProxyResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def is_text(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return (kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith("+json") or kind.endswith("+xml"))


def encode_body(call: Call) -> tuple[str | None, bool]:
    """The request body as the event carries it: (text or base64, isBase64Encoded)."""
    body = call.request.body
    if not body:
        return None, False
    if is_text(call.request.headers.get("content-type", "")):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def forwarded_headers(call: Call) -> dict[str, list[str]]:
    """The request headers plus those API Gateway adds (X-Forwarded-*, X-Amzn-Trace-Id)."""
    headers = {name: list(values) for name, values in call.header_lists.items()}
    headers.setdefault("x-amzn-trace-id", [trace_id(call.started)])
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = [f"{forwarded[0]}, {call.source_ip}"] if forwarded else [call.source_ip]
    host = call.request.headers.get("host", "")
    port = host.rpartition(":")[2] if ":" in host and not host.endswith("]") else "80"
    headers.setdefault("x-forwarded-port", [port])
    headers.setdefault("x-forwarded-proto", ["http"])
    if call.request.body:
        headers["content-length"] = [str(len(call.request.body))]
    return headers


def event_v2(call: Call) -> dict[str, Any]:
    headers = forwarded_headers(call)
    cookie_values = headers.pop("cookie", None)
    event: dict[str, Any] = {"version": "2.0", "routeKey": call.route_key, "rawPath": call.raw_path,
                             "rawQueryString": call.request.query_string}
    if cookie_values:
        event["cookies"] = [c.strip() for value in cookie_values for c in value.split(";") if c.strip()]
    event["headers"] = {name: ",".join(values) for name, values in headers.items()}
    if call.query_lists:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in call.query_lists.items()}
    event["requestContext"] = request_context_v2(call)
    body, encoded = encode_body(call)
    if body is not None:
        event["body"] = body
    if call.path_parameters:
        event["pathParameters"] = dict(call.path_parameters)
    event["isBase64Encoded"] = encoded
    if call.stage.variables:
        event["stageVariables"] = dict(call.stage.variables)
    return event


def request_context_v2(call: Call) -> dict[str, Any]:
    context: dict[str, Any] = {"accountId": call.stage.api.account, "apiId": call.stage.api.api_id}
    if call.authorizer is not None:
        context["authorizer"] = call.authorizer
    context.update({
        "domainName": call.domain_name, "domainPrefix": call.domain_prefix,
        "http": {"method": call.method, "path": call.decoded_path, "protocol": call.protocol,
                 "sourceIp": call.source_ip, "userAgent": call.user_agent},
        "requestId": call.request_id, "routeKey": call.route_key, "stage": call.stage.name,
        "time": clf_time(call.started), "timeEpoch": int(call.started * 1000),
    })
    return context


def event_v1(call: Call) -> dict[str, Any]:
    headers = forwarded_headers(call)
    body, encoded = encode_body(call)
    query = call.query_lists
    identity = {"accessKey": None, "accountId": None, "caller": None, "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None, "cognitoIdentityId": None, "cognitoIdentityPoolId": None,
                "principalOrgId": None, "sourceIp": call.source_ip, "user": None, "userAgent": call.user_agent,
                "userArn": None}
    if call.sigv4_identity:
        identity.update({"accessKey": call.sigv4_identity.get("accessKey"),
                         "accountId": call.sigv4_identity.get("accountId"),
                         "caller": call.sigv4_identity.get("callerId"), "user": call.sigv4_identity.get("userId"),
                         "userArn": call.sigv4_identity.get("userArn")})
    context: dict[str, Any] = {"accountId": call.stage.api.account, "apiId": call.stage.api.api_id}
    if call.authorizer_v1 is not None:
        context["authorizer"] = call.authorizer_v1
    context.update({
        "domainName": call.domain_name, "domainPrefix": call.domain_prefix, "extendedRequestId": call.request_id,
        "httpMethod": call.method, "identity": identity, "path": call.decoded_path, "protocol": call.protocol,
        "requestId": call.request_id, "requestTime": clf_time(call.started),
        "requestTimeEpoch": int(call.started * 1000), "resourceId": call.route_key,
        "resourcePath": call.resource, "routeKey": call.route_key, "stage": call.stage.name,
    })
    return {
        "version": "1.0", "resource": call.resource, "path": call.decoded_path, "httpMethod": call.method,
        "headers": {name: values[-1] for name, values in headers.items()},
        "multiValueHeaders": headers,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
        "multiValueQueryStringParameters": {k: list(v) for k, v in query.items()} if query else None,
        "requestContext": context,
        "pathParameters": dict(call.path_parameters) if call.path_parameters else None,
        "stageVariables": dict(call.stage.variables) if call.stage.variables else None,
        "body": body, "isBase64Encoded": encoded,
    }


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, int | float):
        text = str(value)
    else:
        raise MalformedResponse(f"header values must be strings, numbers or booleans, not {type(value).__name__}")
    # Header bytes go out as latin-1: carry UTF-8 text through byte for byte.
    return text.encode("utf-8").decode("latin-1")


def parse_response(payload: bytes, version: str) -> ProxyResponse:
    """The HTTP response for a function's answer; raises ``MalformedResponse``."""
    try:
        result = json.loads(payload) if payload.strip() else None
    except ValueError as exc:
        raise MalformedResponse(f"the function's response is not JSON: {exc}") from None
    if version == "2.0" and not (isinstance(result, dict) and "statusCode" in result):
        body = result.encode("utf-8") if isinstance(result, str) else payload.strip()
        return ProxyResponse(200, {"content-type": "application/json"}, body=body)
    if not isinstance(result, dict):
        raise MalformedResponse("the function's response must be a JSON object with statusCode (payload "
                                "format 1.0)")
    # Members other than these are ignored (HTTP APIs, unlike REST APIs, do not reject them).
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode must be an HTTP status code, not {status!r}")
    response = ProxyResponse(status)
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    for name, value in headers.items():
        if str(name).lower() in multi or str(name) in multi:
            continue
        response.headers[str(name).lower()] = _header_text(value)
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse("multiValueHeaders values must be lists")
        lower = str(name).lower()
        for index, value in enumerate(values):
            if index == 0 and lower not in response.headers:
                response.headers[lower] = _header_text(value)
            else:
                response.extra_headers.append((lower, _header_text(value)))
    cookies = (result.get("cookies") or []) if version == "2.0" else []
    if not isinstance(cookies, list):
        raise MalformedResponse("cookies must be a list of strings")
    for cookie in cookies:
        response.extra_headers.append(("set-cookie", _header_text(cookie)))
    encoded = result.get("isBase64Encoded")
    if isinstance(encoded, str) and encoded.lower() in ("true", "false"):
        encoded = encoded.lower() == "true"
    elif encoded is not None and not isinstance(encoded, bool):
        raise MalformedResponse(f"isBase64Encoded must be a boolean, not {encoded!r}")
    body = result.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str):
        if encoded:
            try:
                raw = base64.b64decode(body, validate=False)
            except (binascii.Error, ValueError):
                raise MalformedResponse("body is not valid base64 but isBase64Encoded is true") from None
        else:
            raw = body.encode("utf-8")
    else:
        raise MalformedResponse(f"body must be a string, not {type(body).__name__}")
    response.body = raw
    if "content-type" not in response.headers and raw:
        response.headers["content-type"] = "application/json"
    for name in HOP_BY_HOP:
        response.headers.pop(name, None)
    response.extra_headers = [(k, v) for k, v in response.extra_headers if k not in HOP_BY_HOP]
    return response
