"""One request through a REST API: what was asked, what was decided, the Lambda proxy event
(REST APIs' format: ``resource``, ``path``, ``httpMethod``, single and multi-value headers and
query parameters, ``pathParameters``, ``stageVariables``, ``requestContext`` with ``identity`` and
``authorizer``, ``body``/``isBase64Encoded``) and the ``$context`` of mapping templates."""

from __future__ import annotations

import base64
import fnmatch
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from cumulo.protocol.http import HttpRequest
from cumulo.protocol.lambda_proxy import clf_time
from cumulo.restapi.views import StageView


def matches_media_type(content_type: str, patterns: list[str]) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return bool(kind) and any(fnmatch.fnmatch(kind, p.lower()) for p in patterns)


@dataclass
class RestCall:
    request: HttpRequest
    stage: StageView
    path: str  # the path within the stage
    domain_name: str
    started: float = field(default_factory=time.time)
    started_perf: float = field(default_factory=time.perf_counter)
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    extended_request_id: str = field(default_factory=lambda: base64.b64encode(os.urandom(11)).decode())
    resource: dict[str, Any] | None = None
    method: dict[str, Any] | None = None
    path_parameters: dict[str, str] = field(default_factory=dict)
    authorizer: dict[str, Any] | None = None  # requestContext.authorizer
    iam_identity: dict[str, Any] | None = None  # the SigV4 caller of an AWS_IAM method
    api_key_id: str | None = None
    usage_key: str | None = None  # an authorizer's usageIdentifierKey
    error_message: str | None = None
    error_type: str | None = None
    integration_status: int | None = None
    integration_latency: int | None = None
    status: int = 0
    response_length: int = 0
    test_invoke: bool = False  # TestInvokeMethod: no authorizer, no API key, as on AWS
    _params: dict[str, dict[str, str]] | None = field(default=None, repr=False)

    # ------------------------------------------------------------ request views
    @property
    def http_method(self) -> str:
        return self.request.method

    @property
    def resource_path(self) -> str:
        return self.resource["path"] if self.resource else ""

    @property
    def full_path(self) -> str:
        """The path as the client sees it on AWS (stage prefix included)."""
        return f"/{self.stage.name}{self.path}" if self.path != "/" else f"/{self.stage.name}/"

    def header_lists(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        if self.request.raw_headers:
            for name, value in self.request.raw_headers:
                found.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
        else:
            found = {name: [value] for name, value in self.request.headers.items()}
        return found

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name.lower())

    def query_lists(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for key, value in self.request.query_items if self.request.query_string else []:
            found.setdefault(key, []).append(value)
        return found

    def params(self) -> dict[str, dict[str, str]]:
        """``$input.params()``: path, querystring and header parameters (last value of repeats)."""
        if self._params is None:
            self._params = {"path": dict(self.path_parameters),
                            "querystring": {k: v[-1] for k, v in self.query_lists().items()},
                            "header": {k: v[-1] for k, v in self.header_lists().items()}}
        return self._params

    def is_binary_request(self) -> bool:
        return matches_media_type(self.header("content-type") or "", self.stage.binary_media_types)

    def body_for_event(self) -> tuple[str | None, bool]:
        body = self.request.body
        if not body:
            return None, False
        if self.is_binary_request():
            return base64.b64encode(body).decode("ascii"), True
        return body.decode("utf-8", "replace"), False

    @property
    def method_arn(self) -> str:
        return (f"arn:aws:execute-api:{self.stage.region}:{self.stage.account}:{self.stage.api_id}/"
                f"{self.stage.name}/{self.http_method}/{self.path.lstrip('/')}")

    # ------------------------------------------------------------ requestContext / $context
    def identity(self) -> dict[str, Any]:
        identity = {"cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
                    "sourceIp": self.request.client or "127.0.0.1", "principalOrgId": None, "accessKey": None,
                    "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None, "userArn": None,
                    "userAgent": self.header("user-agent") or "", "user": None,
                    "apiKey": self.header("x-api-key") if self.api_key_id else None,
                    "apiKeyId": self.api_key_id}
        if self.iam_identity:
            identity.update(self.iam_identity)
        return identity

    def request_context(self) -> dict[str, Any]:
        context: dict[str, Any] = {
            "resourceId": self.resource["id"] if self.resource else "", "resourcePath": self.resource_path,
            "httpMethod": self.http_method, "extendedRequestId": self.extended_request_id,
            "requestTime": clf_time(self.started), "path": self.full_path, "accountId": self.stage.account,
            "protocol": "HTTP/1.1", "stage": self.stage.name, "domainPrefix": self.stage.api_id,
            "requestTimeEpoch": int(self.started * 1000), "requestId": self.request_id,
            "identity": self.identity(), "domainName": self.domain_name, "apiId": self.stage.api_id,
        }
        if self.authorizer is not None:
            context["authorizer"] = self.authorizer
        return context

    def template_context(self) -> dict[str, Any]:
        """``$context`` of mapping templates (and access logs): the request context plus errors."""
        context = self.request_context()
        context.setdefault("authorizer", {})
        message = self.error_message
        context["error"] = {"message": message, "messageString": None if message is None else f'"{message}"',
                            "responseType": self.error_type}
        context["status"] = self.status or None
        context["responseLength"] = self.response_length
        context["responseLatency"] = int((time.perf_counter() - self.started_perf) * 1000)
        context["integrationStatus"] = self.integration_status
        context["integrationLatency"] = self.integration_latency
        context["sourceIp"] = context["identity"]["sourceIp"]
        return context

    def proxy_event(self) -> dict[str, Any]:
        headers = self.header_lists()
        query = self.query_lists()
        body, encoded = self.body_for_event()
        return {
            "resource": self.resource_path, "path": unquote(self.path), "httpMethod": self.http_method,
            "headers": {name: values[-1] for name, values in headers.items()} or None,
            "multiValueHeaders": headers or None,
            "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": dict(self.path_parameters) or None,
            "stageVariables": dict(self.stage.variables) or None,
            "requestContext": self.request_context(), "body": body, "isBase64Encoded": encoded,
        }
