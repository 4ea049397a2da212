"""Lambda proxy events of HTTP APIs (payload formats 1.0 and 2.0); the function's answer is read by
``cumulo.protocol.lambda_proxy``.

Format 2.0 joins repeated headers and query parameters with commas, moves cookies to
``cookies`` and omits empty members. Format 1.0 has the ``multiValueHeaders``/
``multiValueQueryStringParameters`` members and nulls for empty ones.
"""

from __future__ import annotations

from typing import Any

from cumulo.httpapi.call import Call, trace_id
from cumulo.protocol.lambda_proxy import clf_time, encode_request_body


def encode_body(call: Call) -> tuple[str | None, bool]:
    """The request body as the event carries it: (text or base64, isBase64Encoded)."""
    return encode_request_body(call.request.body, call.request.headers.get("content-type", ""))


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
