"""Function URLs, the data plane: an HTTP request in, the function's answer out.

Mixed into ``LambdaProvider`` as its ``http_route``, which the gateway tries before the AWS API.
A request is for a function URL when its path starts with ``/_lambda-url/{id}`` (path style) or
its Host is ``{id}.lambda-url.<anything>`` (host style); anything else costs two string checks.

As on AWS: the function's resource-based policy must allow ``lambda:InvokeFunctionUrl`` and
``lambda:InvokeFunction`` to everyone for AuthType NONE, and a valid SigV4 signature (service
``lambda``) is required for AWS_IAM (403 ``{"Message":"Forbidden"}`` otherwise); CORS preflights
are answered from the URL's Cors; the event is payload format 2.0 with ``routeKey`` and ``stage``
``$default``; the answer is read as an HTTP API's 2.0 answer is; a function error or a malformed
answer is a 502. With ``InvokeMode: RESPONSE_STREAM`` a function that streams its response is
relayed as it writes (``streamed_response``); one that fails mid-stream has its connection cut.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from cumulo.gateway.session_auth import signed_caller
from cumulo.protocol import cors
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest, HttpResponse
from cumulo.protocol.lambda_proxy import (
    HOP_BY_HOP,
    MalformedResponse,
    clf_time,
    encode_request_body,
    parse_response,
)
from cumulo.runtime.streaming import ResponseStream
from cumulo.services.lambda_.function_urls import URL_HOST_MARKER, URL_PATH_PREFIX
from cumulo.services.lambda_.invocation import MAX_SYNC_PAYLOAD
from cumulo.services.lambda_.names import LATEST
from cumulo.services.lambda_.repository import URL_IDS, LambdaRepository

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.lambda.urls")
HTTP_INTEGRATION_RESPONSE = "application/vnd.awslambda.http-integration-response"
PRELUDE_END = b"\x00" * 8


def _message(status: int, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    body = json.dumps({"Message": message}).encode()
    return HttpResponse(status, {"content-type": "application/json", **(headers or {})}, body)


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _grants_everyone(statement: dict[str, Any], action: str) -> bool:
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else actions or []
    principal = statement.get("Principal")
    public = principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*")
    return (statement.get("Effect") == "Allow" and public
            and any(a in (action, "lambda:*", "*") for a in actions))


def allows_public_access(statements: list[dict[str, Any]]) -> bool:
    """Whether a resource policy lets anyone call the function through an AuthType NONE URL: since
    October 2025 AWS requires both ``lambda:InvokeFunctionUrl`` (for AuthType NONE) and
    ``lambda:InvokeFunction`` (for calls made through a URL), as SAM's FunctionUrlConfig grants."""
    def url_grant(statement: dict[str, Any]) -> bool:
        condition = (statement.get("Condition") or {}).get("StringEquals") or {}
        return (_grants_everyone(statement, "lambda:InvokeFunctionUrl")
                and condition.get("lambda:FunctionUrlAuthType") in (None, "NONE"))

    def invoke_grant(statement: dict[str, Any]) -> bool:
        condition = (statement.get("Condition") or {}).get("Bool") or {}
        return (_grants_everyone(statement, "lambda:InvokeFunction")
                and str(condition.get("lambda:InvokedViaFunctionUrl", "true")).lower() == "true")

    return any(map(url_grant, statements)) and any(map(invoke_grant, statements))


def url_event(request: HttpRequest, url_id: str, path: str, account: str,
              iam: dict[str, Any] | None, started: float, request_id: str) -> dict[str, Any]:
    """The payload-2.0 event a function URL request becomes."""
    headers = _joined((name.decode("latin-1"), value.decode("latin-1")) for name, value in request.raw_headers)
    cookies = headers.pop("cookie", None)
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(started):08x}-{request_id.replace('-', '')[:24]}")
    headers["x-forwarded-for"] = request.client or "127.0.0.1"
    headers.setdefault("x-forwarded-proto", "http")
    host = request.headers.get("host", "")
    headers.setdefault("x-forwarded-port", host.rpartition(":")[2] if ":" in host else "80")
    event: dict[str, Any] = {"version": "2.0", "routeKey": "$default", "rawPath": path,
                             "rawQueryString": request.query_string, "headers": headers}
    if cookies:
        event["cookies"] = [c.strip() for c in cookies.split(";") if c.strip()]
    if request.query_string:
        event["queryStringParameters"] = _joined(parse_qsl(request.query_string, keep_blank_values=True))
    domain = host.rpartition(":")[0] if ":" in host else host
    context: dict[str, Any] = {"accountId": account if iam else "anonymous", "apiId": url_id,
                               "authentication": None}
    if iam:
        context["authorizer"] = {"iam": iam}
    context.update({
        "domainName": domain, "domainPrefix": url_id,
        "http": {"method": request.method, "path": unquote(path), "protocol": "HTTP/1.1",
                 "sourceIp": request.client or "127.0.0.1", "userAgent": request.headers.get("user-agent", "")},
        "requestId": request_id, "routeKey": "$default", "stage": "$default",
        "time": clf_time(started), "timeEpoch": int(started * 1000)})
    event["requestContext"] = context
    body, encoded = encode_request_body(request.body, request.headers.get("content-type", ""))
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = encoded
    return event


class StreamFailed(Exception):
    """The function failed after its response had begun: the client's connection is cut."""


async def streamed_response(stream: ResponseStream, request_id: str) -> HttpResponse:
    """A RESPONSE_STREAM URL's answer: status and headers from the prelude that
    ``awslambda.HttpResponseStream.from`` writes (JSON, then eight NUL bytes) when the function
    streams an HTTP integration response, else a 200 of the stream's content type; the body goes
    out as the function writes it."""
    pieces = stream.pieces()
    status, headers, cookies, first = 200, {"content-type": stream.content_type}, [], b""
    if stream.content_type == HTTP_INTEGRATION_RESPONSE:
        buffered = b""
        async for piece in pieces:
            buffered += piece
            if PRELUDE_END in buffered:
                break
        prelude, found, first = buffered.partition(PRELUDE_END)
        try:
            if not found:
                raise ValueError("the stream ended before its prelude")
            metadata = json.loads(prelude or b"{}")
            status = int(metadata.get("statusCode") or 200)
            headers = {str(k).lower(): str(v) for k, v in (metadata.get("headers") or {}).items()}
            cookies = [str(c) for c in metadata.get("cookies") or []]
        except (ValueError, TypeError, AttributeError) as error:
            log.warning("function URL: malformed streamed response prelude: %s", error)
            return _message(502, "Internal Server Error", {"x-amzn-requestid": request_id})

    async def body() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for piece in pieces:
            yield piece
        if stream.error_type:
            raise StreamFailed(stream.error_type)

    headers = {k: v for k, v in headers.items() if k not in HOP_BY_HOP}
    headers["x-amzn-requestid"] = request_id
    return HttpResponse(status, headers, extra_headers=[("set-cookie", c) for c in cookies], stream=body())


class FunctionUrlRoutes:
    """Needs ``self.platform`` and ``invoke_function`` of the Lambda provider."""

    platform: Platform

    async def http_route(self, request: HttpRequest) -> HttpResponse | None:
        path = request.path
        if path.startswith(URL_PATH_PREFIX):
            url_id, _, rest = path[len(URL_PATH_PREFIX):].partition("/")
            return await self._serve(request, url_id.lower(), "/" + rest)
        host = request.headers.get("host", "")
        if URL_HOST_MARKER in host:
            return await self._serve(request, host.partition(".")[0].lower(), path)
        return None

    async def _serve(self, request: HttpRequest, url_id: str, path: str) -> HttpResponse:
        target = self.platform.store.get(URL_IDS, url_id)
        if target is None:
            return _message(404, "Not Found")
        repo = LambdaRepository(self.platform.store, target["account"], target["region"])
        name, qualifier = target["name"], target["qualifier"]
        config = repo.url(name, qualifier)
        function = repo.find_function(name)
        if config is None or function is None:
            return _message(404, "Not Found")
        settings = config.get("Cors")
        if settings and cors.is_preflight(request):
            return HttpResponse(200, cors.preflight_headers(settings, request), b"")
        response = await self._answer(request, repo, name, qualifier, config, function, url_id, path)
        if settings:
            response.headers = {k: v for k, v in response.headers.items() if not k.startswith("access-control-")}
            response.headers.update(cors.response_headers(settings, request))
        return response

    async def _answer(self, request: HttpRequest, repo: LambdaRepository, name: str, qualifier: str,
                      config: dict[str, Any], function: dict[str, Any], url_id: str, path: str) -> HttpResponse:
        iam = None
        if config["AuthType"] == "AWS_IAM":
            try:
                iam = signed_caller(request, self.platform.settings.access_keys, self.platform.sessions, repo.account)
            except AwsError:
                return _message(403, "Forbidden")
        elif not allows_public_access((function.get("policies") or {}).get("" if qualifier == LATEST else qualifier,
                                                                            [])):
            return _message(403, "Forbidden")
        if len(request.body) > MAX_SYNC_PAYLOAD:
            return _message(413, "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
        started = time.time()
        invoke_id = str(uuid.uuid4())
        event = json.dumps(url_event(request, url_id, path, repo.account, iam, started, invoke_id),
                           separators=(",", ":")).encode()
        try:
            if config.get("InvokeMode") == "RESPONSE_STREAM":
                _, ran = await self.run_streaming(  # type: ignore[attr-defined]
                    repo, name, None if qualifier == LATEST else qualifier, event, request_id=invoke_id)
                if ran.stream is not None:
                    return await streamed_response(ran.stream, invoke_id)
                result = {"Payload": ran.payload, "FunctionError": ran.function_error, "RequestId": invoke_id}
            else:
                result = await self.invoke_function(  # type: ignore[attr-defined]
                    name, event, account=repo.account, region=repo.region,
                    qualifier=None if qualifier == LATEST else qualifier)
        except AwsError as error:
            if error.code == "TooManyRequestsException":
                return _message(429, "Rate Exceeded.")
            log.warning("function URL %s: invoking %s failed: %s", url_id, name, error)
            return _message(502, "Internal Server Error")
        if result.get("FunctionError"):
            return _message(502, "Internal Server Error", {"x-amzn-requestid": result["RequestId"]})
        try:
            parsed = parse_response(result.get("Payload") or b"", "2.0")
        except MalformedResponse as error:
            log.warning("function URL %s: malformed response from %s: %s", url_id, name, error)
            return _message(502, "Internal Server Error", {"x-amzn-requestid": result["RequestId"]})
        headers = {k: v for k, v in parsed.headers.items() if k not in HOP_BY_HOP}
        headers["x-amzn-requestid"] = result["RequestId"]
        return HttpResponse(parsed.status, headers, parsed.body, parsed.extra_headers)
