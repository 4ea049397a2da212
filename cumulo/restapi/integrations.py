"""Integrations of REST APIs: AWS_PROXY (Lambda proxy), AWS (Lambda non-proxy and service actions
through ``call_api``), HTTP and HTTP_PROXY (``net/http_client``), MOCK.

Non-proxy integrations map the request through the request template chosen by content type
(``passthroughBehavior`` decides when none matches), then pick the integration response whose
``selectionPattern`` matches (the status code for HTTP/AWS, the ``errorMessage`` of a Lambda
error; the response without a pattern otherwise), and map the answer through its response
template and response parameters. Failures are answered as API Gateway answers them: 502
``Internal server error`` for a failed or malformed Lambda proxy answer, 504 ``Endpoint request
timed out`` after ``timeoutInMillis`` (29 s at most), 500 ``Internal server error`` for a
configuration error (no integration response matched, bad template).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from cumulo.net import http_client
from cumulo.protocol.errors import AwsError
from cumulo.protocol.json_codec import write_json
from cumulo.protocol.lambda_proxy import HOP_BY_HOP
from cumulo.protocol.protocols import error_status
from cumulo.restapi import vtl
from cumulo.restapi.call import RestCall, matches_media_type
from cumulo.services.api_calls import call_api

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.restapi")
LAMBDA_URI = re.compile(r"^arn:aws[a-zA-Z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(?P<arn>.+)"
                        r"/invocations$")
AWS_URI = re.compile(r"^arn:aws[a-zA-Z-]*:apigateway:(?P<region>[a-z0-9-]*):(?P<service>[a-z0-9-]+):"
                     r"(?P<kind>action|path)/(?P<rest>.+)$")
SERVICES = {"states": "stepfunctions", "sqs": "sqs", "sns": "sns", "events": "events", "dynamodb": "dynamodb",
            "s3": "s3", "lambda": "lambda", "logs": "logs"}
QUERY_SERVICES = {"sqs", "sns"}
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_.\-]+)\}")
PROXY_MEMBERS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}


class IntegrationFailure(Exception):
    """The integration failed the way API Gateway reports with a gateway response."""

    def __init__(self, status: int, message: str, response_type: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.message = message
        self.response_type = response_type


def failure(detail: str) -> IntegrationFailure:
    return IntegrationFailure(502, "Internal server error", "DEFAULT_5XX", detail)


def configuration_error(detail: str) -> IntegrationFailure:
    return IntegrationFailure(500, "Internal server error", "API_CONFIGURATION_ERROR", detail)


@dataclass
class Reply:
    """What an integration answered, before integration responses map it."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    error_message: str | None = None  # a Lambda function's errorMessage (for selection patterns)


def stage_substitute(text: str, variables: dict[str, str]) -> str:
    return _STAGE_VARIABLE.sub(lambda m: variables.get(m.group(1), ""), text) if "${" in text else text


async def within(awaitable: Any, timeout: float) -> Any:
    """Wait at most ``timeout`` seconds; the work goes on (its result dropped) after a timeout."""
    task = asyncio.ensure_future(awaitable)
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return await asyncio.wait_for(asyncio.shield(task), timeout)


class Integrations:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def run(self, call: RestCall, integration: dict[str, Any]) -> Reply:
        kind = integration.get("type")
        timeout = min(integration.get("timeoutInMillis") or 29000, 29000) / 1000
        started = time.perf_counter()
        try:
            if kind == "AWS_PROXY":
                return await within(self._lambda_proxy(call, integration), timeout)
            if kind == "HTTP_PROXY":
                return await within(self._http(call, integration, call.request.body, proxy=True), timeout)
            body = self._request_body(call, integration)
            if kind == "MOCK":
                reply = self._mock(body)
            elif kind == "HTTP":
                reply = await within(self._http(call, integration, body.encode(), proxy=False), timeout)
            else:
                reply = await within(self._aws(call, integration, body), timeout)
            return self._map_response(call, integration, reply)
        except TimeoutError:
            raise IntegrationFailure(504, "Endpoint request timed out", "INTEGRATION_TIMEOUT",
                                     f"the integration did not answer within {timeout:.3g} s") from None
        finally:
            call.integration_latency = int((time.perf_counter() - started) * 1000)

    # ------------------------------------------------------------ Lambda proxy
    async def _invoke(self, call: RestCall, uri: str, payload: bytes) -> dict[str, Any]:
        found = LAMBDA_URI.match(uri)
        function = stage_substitute(found.group("arn") if found else uri, call.stage.variables)
        try:
            return await self.platform.functions.invoke_function(function, payload, account=call.stage.account,
                                                                 region=call.stage.region)
        except AwsError as error:
            call.integration_status = error.status or 500
            raise failure(f"invoking {function} failed: {error.code}: {error.message}") from None

    async def _lambda_proxy(self, call: RestCall, integration: dict[str, Any]) -> Reply:
        event = json.dumps(call.proxy_event(), separators=(",", ":")).encode()
        result = await self._invoke(call, integration.get("uri") or "", event)
        call.integration_status = result.get("StatusCode", 200)
        payload = result.get("Payload") or b""
        if result.get("FunctionError"):
            raise failure(f"Lambda function error: {payload[:300].decode('utf-8', 'replace')}")
        return parse_proxy_response(payload, call)

    # ------------------------------------------------------------ request mapping
    def _request_body(self, call: RestCall, integration: dict[str, Any]) -> str:
        templates = integration.get("requestTemplates") or {}
        content_type = (call.header("content-type") or "application/json").split(";", 1)[0].strip().lower()
        template = templates.get(content_type)
        raw = call.request.body
        if call.is_binary_request() and integration.get("contentHandling") == "CONVERT_TO_TEXT":
            text = base64.b64encode(raw).decode()
        else:
            text = raw.decode("utf-8", "replace")
        if template is None:
            behavior = integration.get("passthroughBehavior") or "WHEN_NO_MATCH"
            if behavior == "NEVER" or (behavior == "WHEN_NO_TEMPLATES" and templates):
                raise IntegrationFailure(415, "Unsupported Media Type", "UNSUPPORTED_MEDIA_TYPE",
                                         f"no request template for {content_type}")
            return text
        try:
            return vtl.render(template, text, call.params(), call.template_context(), call.stage.variables)
        except vtl.TemplateError as error:
            raise configuration_error(str(error)) from None

    @staticmethod
    def _mock(body: str) -> Reply:
        try:
            status = int((json.loads(body) or {}).get("statusCode", 200)) if body.strip() else 200
        except (ValueError, TypeError, AttributeError):
            status = 200
        return Reply(status)

    # ------------------------------------------------------------ AWS (service actions, Lambda non-proxy)
    async def _aws(self, call: RestCall, integration: dict[str, Any], body: str) -> Reply:
        uri = stage_substitute(integration.get("uri") or "", call.stage.variables)
        if LAMBDA_URI.match(uri):
            result = await self._invoke(call, uri, body.encode() or b"{}")
            call.integration_status = result.get("StatusCode", 200)
            payload = result.get("Payload") or b""
            message = None
            if result.get("FunctionError"):
                try:
                    message = str((json.loads(payload) or {}).get("errorMessage"))
                except (ValueError, AttributeError):
                    message = payload.decode("utf-8", "replace")
            return Reply(200, {"content-type": "application/json"}, body=payload, error_message=message)
        found = AWS_URI.match(uri)
        if found is None or found.group("service") not in SERVICES:
            raise configuration_error(f"AWS integration URI {uri} names no service Cumulo serves")
        service = SERVICES[found.group("service")]
        region = found.group("region") or call.stage.region
        if service == "s3" and found.group("kind") == "path":
            return await self._s3_object(call, integration, found.group("rest"), region, body)
        params, action = self._action_params(call, integration, service, found.group("kind"), found.group("rest"),
                                             body)
        if not self.platform.has_service(service):
            raise configuration_error(f"The {service} service is not available in this Cumulo build")
        request_id = str(uuid.uuid4())
        model = self.platform.catalog.model(service)
        if action not in model.operation_names:
            raise configuration_error(f"{service} has no action {action}")
        operation = model.operation_model(action)
        try:
            result = await call_api(self.platform, service, action, params, account=call.stage.account,
                                    region=region, request_id=request_id)
        except AwsError as error:
            status = error_status(model, error)
            call.integration_status = status
            document = {"__type": error.code, "message": error.message}
            if service in QUERY_SERVICES:
                document = {"Error": {"Code": error.query_code or error.code, "Message": error.message,
                                      "Type": "Sender" if error.sender_fault else "Receiver"},
                            "RequestId": request_id}
            return Reply(status, {"content-type": "application/json", "x-amzn-requestid": request_id},
                         body=json.dumps(document).encode())
        call.integration_status = 200
        output = write_json(operation.output_shape, result or {}) if operation.output_shape is not None else {}
        if service in QUERY_SERVICES:
            output = {f"{action}Response": {f"{action}Result": output, "ResponseMetadata": {"RequestId": request_id}}}
        return Reply(200, {"content-type": "application/json", "x-amzn-requestid": request_id},
                     body=json.dumps(output, separators=(",", ":"), default=str).encode())

    async def _s3_object(self, call: RestCall, integration: dict[str, Any], path: str, region: str,
                         body: str) -> Reply:
        """``s3:path/{bucket}/{key}``: GET (GetObject), PUT (PutObject, the mapped body, or the raw
        body when binary), DELETE and HEAD, with ``{name}`` filled from ``integration.request.path.*``
        mappings (or the method's path parameters)."""
        values = dict(call.path_parameters)
        for target, source in (integration.get("requestParameters") or {}).items():
            if target.startswith("integration.request.path."):
                value = _parameter_value(source, call)
                if value is not None:
                    values[target[len("integration.request.path."):]] = value
        path = re.sub(r"\{([^}+]+)\+?\}", lambda m: values.get(m.group(1), m.group(0)), path)
        bucket, _, key = path.partition("/")
        verb = integration.get("httpMethod") or "GET"
        verb = call.http_method if verb == "ANY" else verb
        operation = {"GET": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject", "HEAD": "HeadObject"}.get(verb)
        if operation is None or not key:
            raise configuration_error(f"S3 integration {verb} {path}: only object GET, PUT, DELETE and HEAD")
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if operation == "PutObject":
            params["Body"] = call.request.body if call.is_binary_request() else body.encode()
            if call.header("content-type"):
                params["ContentType"] = call.header("content-type")
        try:
            result = await call_api(self.platform, "s3", operation, params, account=call.stage.account,
                                    region=region) or {}
        except AwsError as error:
            status = error_status(self.platform.catalog.model("s3"), error)
            call.integration_status = status
            document = f"<Error><Code>{error.code}</Code><Message>{error.message}</Message></Error>"
            return Reply(status, {"content-type": "application/xml"}, body=document.encode())
        call.integration_status = 204 if operation == "DeleteObject" else 200
        headers = {"content-type": str(result.get("ContentType") or "application/json")}
        if result.get("ETag"):
            headers["etag"] = str(result["ETag"])
        content = result.get("Body") or b""
        content = content.read() if hasattr(content, "read") else content
        return Reply(call.integration_status, headers, body=content if operation == "GetObject" else b"")

    @staticmethod
    def _action_params(call: RestCall, integration: dict[str, Any], service: str, kind: str, rest: str,
                       body: str) -> tuple[dict[str, Any], str]:
        """The operation and its input from the URI and the mapped body (form-encoded for query
        services, JSON otherwise)."""
        params: dict[str, Any] = {}
        action = rest.split("&", 1)[0] if kind == "action" else ""
        if kind == "action" and "&" in rest:
            params.update(dict(parse_qsl(rest.split("&", 1)[1])))
        if service in QUERY_SERVICES:
            form = dict(parse_qsl(body, keep_blank_values=True)) if "=" in body else {}
            action = form.pop("Action", None) or action
            form.pop("Version", None)
            params.update(form)
            query = integration.get("requestParameters") or {}
            for target, source in query.items():
                value = _parameter_value(source, call)
                if target.startswith("integration.request.querystring.") and value is not None:
                    params[target.rsplit(".", 1)[1]] = value
            if service == "sqs" and kind == "path":
                account, _, queue = rest.partition("/")
                params["QueueUrl"] = f"http://localhost/{account}/{queue}"
            return _typed(params), action
        if body.strip():
            try:
                document = json.loads(body)
            except ValueError:
                raise configuration_error("the mapped request body of the AWS integration is not JSON") from None
            if isinstance(document, dict):
                params.update(document)
        return params, action

    # ------------------------------------------------------------ HTTP
    async def _http(self, call: RestCall, integration: dict[str, Any], body: bytes, proxy: bool) -> Reply:
        uri = stage_substitute(integration.get("uri") or "", call.stage.variables)
        for name, value in call.path_parameters.items():
            uri = uri.replace("{" + name + "+}", quote(value, safe="/"))
            uri = uri.replace("{" + name + "}", quote(value, safe=""))
        parts = urlsplit(uri)
        query = parse_qsl(parts.query, keep_blank_values=True)
        headers: list[tuple[str, str]] = []
        if proxy:
            query += list(call.request.query_items) if call.request.query_string else []
            headers = [(k, v) for k, values in call.header_lists().items() for v in values
                       if k.lower() not in HOP_BY_HOP and k.lower() != "host"]
        for target, source in (integration.get("requestParameters") or {}).items():
            value = _parameter_value(source, call)
            if value is None:
                continue
            if target.startswith("integration.request.header."):
                headers.append((target[len("integration.request.header."):], value))
            elif target.startswith("integration.request.querystring."):
                query.append((target[len("integration.request.querystring."):], value))
        method = integration.get("httpMethod") or "ANY"
        method = call.http_method if method == "ANY" else method
        url = f"{parts.scheme}://{parts.netloc}{parts.path or '/'}" + ("?" + urlencode(query) if query else "")
        try:
            answer = await http_client.request(method, url, headers, body or None, timeout=29)
        except http_client.HttpClientError as error:
            raise failure(f"HTTP integration failed: {error}") from None
        call.integration_status = answer.status
        single, extra = answer.relayed_headers(HOP_BY_HOP)
        return Reply(answer.status, single, extra, answer.body)

    # ------------------------------------------------------------ integration responses
    def _map_response(self, call: RestCall, integration: dict[str, Any], reply: Reply) -> Reply:
        responses = list((integration.get("integrationResponses") or {}).values())
        subject = reply.error_message if reply.error_message is not None else str(reply.status)
        chosen = None
        for response in responses:
            pattern = response.get("selectionPattern")
            if pattern and re.fullmatch(pattern, subject, re.DOTALL):
                chosen = response
                break
        if chosen is None:
            chosen = next((r for r in responses if not r.get("selectionPattern")), None)
        if chosen is None:
            raise configuration_error("No match for output mapping and no default output mapping configured")
        status = int(chosen["statusCode"])
        headers: dict[str, str] = {}
        for target, source in (chosen.get("responseParameters") or {}).items():
            if target.startswith("method.response.header."):
                value = _response_value(source, reply)
                if value is not None:
                    headers[target[len("method.response.header."):].lower()] = value
        body = reply.body
        templates = chosen.get("responseTemplates") or {}
        accept = (call.header("accept") or "application/json").split(",")[0].split(";")[0].strip().lower()
        template = templates.get(accept) or templates.get("application/json") or (
            next(iter(templates.values())) if templates else None)
        content_type = accept if accept in templates else "application/json"
        if template is not None and template != "":
            context = call.template_context()
            override: dict[str, Any] = {"status": None, "header": {}}
            context["responseOverride"] = override
            try:
                body = vtl.render(template, body.decode("utf-8", "replace"), call.params(), context,
                                  call.stage.variables).encode()
            except vtl.TemplateError as error:
                raise configuration_error(str(error)) from None
            # #set($context.responseOverride.status = 400) / .header.Name = '...'
            if str(override.get("status") or "").isdigit():
                status = int(override["status"])
            headers.update({str(k).lower(): str(v) for k, v in (override.get("header") or {}).items()})
        elif template == "" and reply.error_message is None and integration.get("type") == "MOCK":
            body = b""
        if chosen.get("contentHandling") == "CONVERT_TO_BINARY":
            body = base64.b64decode(body)
        headers.setdefault("content-type", content_type)
        return Reply(status, headers, [], body)


def parse_proxy_response(payload: bytes, call: RestCall) -> Reply:
    """A Lambda proxy answer as the client's response; REST APIs refuse (502) anything but an
    object with a numeric statusCode and the documented members."""
    try:
        result = json.loads(payload) if payload.strip() else None
    except ValueError:
        raise failure("Malformed Lambda proxy response: not JSON") from None
    if not isinstance(result, dict) or set(result) - PROXY_MEMBERS:
        raise failure("Malformed Lambda proxy response")
    status = result.get("statusCode", 200)
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise failure(f"Malformed Lambda proxy response: statusCode {status!r}")
    reply = Reply(status)
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        raise failure("Malformed Lambda proxy response: headers")
    for name, value in headers.items():
        reply.headers[str(name).lower()] = _text(value)
    for name, values in multi.items():
        for value in values if isinstance(values, list) else [values]:
            lower = str(name).lower()
            if lower in reply.headers:
                if reply.headers[lower] != _text(value):
                    reply.extra_headers.append((lower, _text(value)))
            else:
                reply.headers[lower] = _text(value)
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    raw = (body or "").encode("utf-8")
    if result.get("isBase64Encoded") and body:
        accept = call.header("accept") or ""
        binary = call.stage.binary_media_types
        if matches_media_type(accept, binary) or matches_media_type(reply.headers.get("content-type", ""), binary):
            try:
                raw = base64.b64decode(body)
            except ValueError:
                raise failure("Malformed Lambda proxy response: body is not base64") from None
    reply.body = raw
    reply.headers.setdefault("content-type", "application/json")
    for name in HOP_BY_HOP:
        reply.headers.pop(name, None)
    return reply


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).encode("utf-8").decode("latin-1")


def _parameter_value(source: str, call: RestCall) -> str | None:
    """A request parameter mapping's source: ``'literal'``, ``method.request.<place>.<name>``,
    ``stageVariables.<name>``, ``context.<name>``."""
    if source.startswith("'") and source.endswith("'") and len(source) >= 2:
        return source[1:-1]
    if source.startswith("method.request."):
        place, _, name = source[len("method.request."):].partition(".")
        params = call.params()
        if place == "header":
            return next((v for k, v in params["header"].items() if k.lower() == name.lower()), None)
        return params.get({"querystring": "querystring", "path": "path"}.get(place, place), {}).get(name)
    if source.startswith("stageVariables."):
        return call.stage.variables.get(source[len("stageVariables."):])
    if source.startswith("context."):
        value: Any = call.template_context()
        for part in source[len("context."):].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return None if value is None else str(value)
    return None


def _response_value(source: str, reply: Reply) -> str | None:
    if source.startswith("'") and source.endswith("'") and len(source) >= 2:
        return source[1:-1]
    if source.startswith("integration.response.header."):
        return reply.headers.get(source[len("integration.response.header."):].lower())
    if source.startswith("integration.response.body"):
        expression = "$" + source[len("integration.response.body"):]
        value = vtl.Input(reply.body.decode("utf-8", "replace"), {}).json(expression)
        return value.strip('"') if value else None
    return None


def _typed(params: dict[str, str]) -> dict[str, Any]:
    """Query-style parameters with the numbers the query protocol would have parsed."""
    typed: dict[str, Any] = {}
    for key, value in params.items():
        typed[key] = int(value) if key in ("DelaySeconds", "MaxNumberOfMessages") and value.isdigit() else value
    return typed
