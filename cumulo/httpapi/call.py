"""One request through an HTTP API: what was asked, what was decided, and the ``$context`` variables.

A ``Call`` is created when a request is known to be for an API and stage; each step (routing,
authorization, integration) records what it did on it, and the access log, parameter mappings
and payloads read the ``$context`` variables from it.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from cumulo.protocol.http import HttpRequest
from cumulo.protocol.lambda_proxy import clf_time

if TYPE_CHECKING:
    from cumulo.httpapi.views import RouteView, StageView

def request_id() -> str:
    """An id shaped like API Gateway's (``Mc7UVioPPHcEKPA=``): 11 random bytes in base64."""
    return base64.b64encode(os.urandom(11)).decode("ascii")


def trace_id(epoch: float) -> str:
    return f"Root=1-{int(epoch):08x}-{os.urandom(12).hex()}"


@dataclass
class Call:
    request: HttpRequest
    stage: StageView
    raw_path: str  # the path the client sees on AWS: stage prefix included, /_api/{id} excluded
    path: str  # the path within the stage, for route matching
    domain_name: str
    domain_prefix: str
    started: float = field(default_factory=time.time)
    started_perf: float = field(default_factory=time.perf_counter)
    request_id: str = field(default_factory=request_id)
    route: RouteView | None = None
    route_key: str = "-"
    resource: str = ""
    path_parameters: dict[str, str] = field(default_factory=dict)
    # authorization
    authorizer: dict[str, Any] | None = None  # requestContext.authorizer of payload format 2.0
    authorizer_v1: dict[str, Any] | None = None  # requestContext.authorizer of payload format 1.0
    authorizer_error: str | None = None
    authorizer_latency: int | None = None
    authorizer_status: int | None = None
    authorizer_principal: str | None = None
    jwt_claims: dict[str, Any] | None = None
    # integration
    integration_status: int | None = None
    integration_latency: int | None = None
    integration_error: str | None = None
    integration_request_id: str | None = None
    # response
    status: int = 0
    response_length: int = 0
    error_message: str | None = None
    error_response_type: str | None = None
    sigv4_identity: dict[str, Any] | None = None
    base_path_matched: str | None = None  # custom domain names: the API mapping key that matched

    # ------------------------------------------------------------ request views
    # (plain attributes and hand-made caches: functools.cached_property takes a lock per read on 3.11)
    _headers: dict[str, list[str]] | None = field(default=None, repr=False)
    _query: dict[str, list[str]] | None = field(default=None, repr=False)

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def header_lists(self) -> dict[str, list[str]]:
        """Header values as received, by lower-case name, repeats kept apart."""
        if self._headers is None:
            found: dict[str, list[str]] = {}
            if self.request.raw_headers:
                for name, value in self.request.raw_headers:
                    key = name.decode("latin-1").lower()
                    if key in found:
                        found[key].append(value.decode("latin-1"))
                    else:
                        found[key] = [value.decode("latin-1")]
            else:
                found = {name: [value] for name, value in self.request.headers.items()}
            self._headers = found
        return self._headers

    @property
    def query_lists(self) -> dict[str, list[str]]:
        if self._query is None:
            found: dict[str, list[str]] = {}
            if self.request.query_string:
                for key, value in self.request.query_items:
                    found.setdefault(key, []).append(value)
            self._query = found
        return self._query

    @property
    def source_ip(self) -> str:
        return self.request.client or "127.0.0.1"

    @property
    def user_agent(self) -> str:
        return self.request.headers.get("user-agent", "")

    @property
    def protocol(self) -> str:
        return "HTTP/1.1"

    @property
    def decoded_path(self) -> str:
        return unquote(self.raw_path) if "%" in self.raw_path else self.raw_path

    @property
    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started_perf) * 1000)

    # ------------------------------------------------------------ $context variables
    def context_value(self, name: str) -> Any:
        """The value of ``$context.<name>`` (None when it has none)."""
        simple = _CONTEXT.get(name)
        if simple is not None:
            return simple(self)
        if name.startswith("authorizer.claims.") and self.jwt_claims is not None:
            return _flatten_claim(self.jwt_claims.get(name[len("authorizer.claims."):]))
        if name.startswith("authorizer."):
            key = name[len("authorizer."):]
            auth = self.authorizer or {}
            source = auth.get("lambda") if isinstance(auth.get("lambda"), dict) else auth
            value = source.get(key) if isinstance(source, dict) else None
            return value
        return None


def _flatten_claim(value: Any) -> Any:
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    return value


def _integration_status(call: Call) -> Any:
    return call.integration_status


_CONTEXT: dict[str, Any] = {
    "accountId": lambda c: c.stage.api.account,
    "apiId": lambda c: c.stage.api.api_id,
    "awsEndpointRequestId": lambda c: c.integration_request_id,
    "dataProcessed": lambda c: len(c.request.body) + c.response_length,
    "domainName": lambda c: c.domain_name,
    "domainPrefix": lambda c: c.domain_prefix,
    "error.message": lambda c: c.error_message,
    "error.messageString": lambda c: None if c.error_message is None else f'"{c.error_message}"',
    "error.responseType": lambda c: c.error_response_type,
    "extendedRequestId": lambda c: c.request_id,
    "httpMethod": lambda c: c.method,
    "identity.sourceIp": lambda c: c.source_ip,
    "identity.userAgent": lambda c: c.user_agent,
    "identity.accessKey": lambda c: (c.sigv4_identity or {}).get("accessKey"),
    "identity.accountId": lambda c: (c.sigv4_identity or {}).get("accountId"),
    "identity.caller": lambda c: (c.sigv4_identity or {}).get("callerId"),
    "identity.user": lambda c: (c.sigv4_identity or {}).get("userId"),
    "identity.userArn": lambda c: (c.sigv4_identity or {}).get("userArn"),
    "path": lambda c: c.raw_path,
    "protocol": lambda c: c.protocol,
    "requestId": lambda c: c.request_id,
    "requestTime": lambda c: clf_time(c.started),
    "requestTimeEpoch": lambda c: int(c.started * 1000),
    "routeKey": lambda c: c.route_key,
    "stage": lambda c: c.stage.name,
    "status": lambda c: c.status or None,
    "responseLength": lambda c: c.response_length,
    "responseLatency": lambda c: c.elapsed_ms,
    "integrationLatency": lambda c: c.integration_latency,
    "integrationStatus": _integration_status,
    "integrationErrorMessage": lambda c: c.integration_error,
    "integration.error": lambda c: c.integration_error,
    "integration.integrationStatus": _integration_status,
    "integration.latency": lambda c: c.integration_latency,
    "integration.requestId": lambda c: c.integration_request_id,
    "integration.status": _integration_status,
    "authorizer.error": lambda c: c.authorizer_error,
    "authorizer.principalId": lambda c: c.authorizer_principal,
    "authorizer.integrationLatency": lambda c: c.authorizer_latency,
    "authorizer.latency": lambda c: c.authorizer_latency,
    "authorizer.status": lambda c: c.authorizer_status,
    "authorize.error": lambda c: c.authorizer_error,
    "authorize.latency": lambda c: c.authorizer_latency,
    "authorize.status": lambda c: c.authorizer_status,
    "customDomain.basePathMatched": lambda c: c.base_path_matched,
}
CONTEXT_VARIABLES = tuple(_CONTEXT)
