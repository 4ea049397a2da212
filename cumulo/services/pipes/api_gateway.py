"""An API Gateway endpoint as a pipe enrichment: one HTTP request per event, through the gateway.

The enrichment ARN is ``arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>``;
Cumulo calls the stage's invoke URL (``/_api/<api id>/<stage>/<path>`` on its own endpoint) so
the request meets the API's authorizers, validation and integration exactly as a client's would.
API Gateway takes no batches, so each event is its own request (AWS requires batch size 1 with
this enrichment); ``EnrichmentParameters.HttpParameters`` add path parameter values (for the
path's ``*``), headers and a query string. A 2xx answer's JSON (or text) is the enriched event;
any other status fails the batch.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from cumulo.net import http_client


class EndpointError(Exception):
    """The endpoint could not be reached or did not answer 2xx."""


def invoke_url(endpoint: str, arn: str, path_values: list[str]) -> tuple[str, str]:
    """The method and URL an ``execute-api`` ARN names."""
    resource = arn.split(":", 5)[5]
    api, stage, method, *path = resource.split("/")
    parts = []
    values = iter(path_values)
    for segment in path:
        parts.append(urllib.parse.quote(next(values, "") if segment == "*" else segment, safe=""))
    return (method if method != "*" else "POST"), f"{endpoint}/_api/{api}/{stage}/" + "/".join(parts)


async def call_endpoint(endpoint: str, arn: str, event: Any, parameters: dict[str, Any]) -> Any:
    http = parameters.get("HttpParameters") or {}
    method, url = invoke_url(endpoint, arn, list(http.get("PathParameterValues") or []))
    if http.get("QueryStringParameters"):
        url += "?" + urllib.parse.urlencode(http["QueryStringParameters"])
    headers = {"Content-Type": "application/json", **(http.get("HeaderParameters") or {})}
    body = (event if isinstance(event, str) else json.dumps(event)).encode()
    try:
        reply = await http_client.request(method, url, headers, body if method not in ("GET", "HEAD") else b"")
    except (http_client.HttpClientError, TimeoutError) as error:
        raise EndpointError(f"{arn}: {error}") from error
    if not 200 <= reply.status < 300:
        raise EndpointError(f"{arn} answered {reply.status}")
    try:
        return json.loads(reply.body) if reply.body else None
    except ValueError:
        return reply.body.decode(errors="replace")
