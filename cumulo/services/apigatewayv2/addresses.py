"""What the addresses API Gateway v2 deals in mean, for the control plane and the data plane alike:
the invoke URL of an API, and the Lambda function an integration or authorizer URI names."""

from __future__ import annotations

import re
from typing import Any

PATH_PREFIX = "/_api/"  # path-style invoke URLs: {base}/_api/{apiId}
HOST_MARKER = ".execute-api."  # host-style invoke URLs: {apiId}.execute-api.<domain>
LAMBDA_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_\-${}.]+(:[A-Za-z0-9_\-${}.]+)?$")
APIGW_LAMBDA_URI = re.compile(
    r"^arn:aws[a-zA-Z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(?P<arn>.+)/invocations$")


def invoke_url(settings: Any, api_id: str, base_url: str, websocket: bool = False) -> str:
    """The invoke URL of an API as a client of ``base_url`` (scheme://host:port) reaches it."""
    scheme, _, hostport = base_url.partition("://")
    if websocket:
        scheme = "wss" if scheme == "https" else "ws"
    if settings.http_api_endpoint == "host":
        port = hostport.rpartition(":")[2] if ":" in hostport.rsplit("]", 1)[-1] else ""
        return f"{scheme}://{api_id}.{settings.http_api_domain}" + (f":{port}" if port else "")
    return f"{scheme}://{hostport}{PATH_PREFIX}{api_id}"


def lambda_arn_of(uri: str) -> str | None:
    """The function ARN an integration or authorizer URI names (None when it names none)."""
    found = APIGW_LAMBDA_URI.match(uri)
    if found:
        uri = found.group("arn")
    return uri if LAMBDA_ARN.match(uri) else None
