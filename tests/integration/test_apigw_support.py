"""Shared helpers of the HTTP API tests (this module holds no tests).

A real HTTP client (``http.client``) talks to the invoke URLs the control plane returns; the
functions behind the APIs are real Lambda functions.
"""

from __future__ import annotations

import http.client
import json
import textwrap
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import make_zip

ROLE = "arn:aws:iam::000000000000:role/apigw-role"

# One function that answers in many shapes, chosen by the x-mode header or the mode query parameter.
ECHO = """
import base64, json, os, time

def handler(event, context):
    headers = event.get("headers") or {}
    query = event.get("queryStringParameters") or {}
    mode = headers.get("x-mode") or query.get("mode") or "echo"
    if mode == "echo":
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
    if mode == "shortcut":
        return {"hello": "world", "path": event.get("rawPath")}
    if mode == "string":
        return "Hello from Lambda!"
    if mode == "cookies":
        return {"statusCode": 201, "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
                "headers": {"content-type": "text/plain", "x-single": "one", "x-number": 7}, "body": "cookies"}
    if mode == "multi":
        return {"statusCode": 200, "headers": {"x-single": "s"}, "multiValueHeaders": {"x-multi": ["a", "b"]},
                "body": "multi"}
    if mode == "binary":
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"}, "isBase64Encoded": True,
                "body": base64.b64encode(bytes(range(256))).decode()}
    if mode == "plain":
        return {"statusCode": 202, "body": "no content type"}
    if mode == "error":
        raise RuntimeError("boom")
    if mode == "malformed":
        return {"statusCode": "teapot", "body": 1}
    if mode == "sleep":
        time.sleep(float(query.get("seconds", "2")))
        return {"statusCode": 200, "body": "slept"}
    if mode == "cors":
        return {"statusCode": 200, "headers": {"access-control-allow-origin": "https://evil.example"}, "body": "x"}
    return {"statusCode": 400, "body": "unknown mode " + mode}
"""


def deploy(lambda_client: Any, code: str, name: str | None = None, **config: Any) -> str:
    """Create a Python function from ``code`` (app.handler); returns its ARN once Active."""
    name = name or f"apigw-{uuid.uuid4().hex[:10]}"
    config.setdefault("Timeout", 30)
    lambda_client.create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": textwrap.dedent(code).lstrip("\n")})}, **config)
    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    return lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def lambda_uri(function_arn: str, region: str = "us-east-1") -> str:
    return f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


def call(url: str, method: str = "GET", body: bytes | str | None = None, headers: dict[str, str] | None = None,
         host: str | None = None, extra_headers: list[tuple[str, str]] | None = None, timeout: float = 60) -> Reply:
    """One HTTP request with the standard library client (repeated headers allowed)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.putrequest(method, target, skip_host=host is not None, skip_accept_encoding=True)
        if host is not None:
            connection.putheader("Host", host)
        data = body.encode() if isinstance(body, str) else body
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        for name, value in extra_headers or []:
            connection.putheader(name, value)
        if data is not None:
            connection.putheader("Content-Length", str(len(data)))
        connection.endheaders(data)
        response = connection.getresponse()
        return Reply(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


def http_api(gw: Any, **config: Any) -> dict[str, Any]:
    config.setdefault("Name", f"api-{uuid.uuid4().hex[:6]}")
    return gw.create_api(ProtocolType="HTTP", **config)


def route_to_lambda(gw: Any, api_id: str, route_key: str, function_arn: str, version: str = "2.0",
                    **route: Any) -> str:
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn,
                                        PayloadFormatVersion=version)
    gw.create_route(ApiId=api_id, RouteKey=route_key, Target=f"integrations/{integration['IntegrationId']}", **route)
    return integration["IntegrationId"]
