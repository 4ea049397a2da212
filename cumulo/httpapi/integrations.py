"""Integrations of HTTP APIs: Lambda proxy, AWS service integrations (IntegrationSubtype) and HTTP proxy.

Each returns the HTTP response for the client and records the integration's status, latency
and error on the call. Failures are answered as API Gateway answers them: 500
``{"message":"Internal Server Error"}`` when the integration failed (function error, malformed
response, missing function or service), 503 ``{"message":"Service Unavailable"}`` when it did
not answer within ``TimeoutInMillis``.

AWS service integrations call the target provider's operation in-process with the parameters
their ``RequestParameters`` map (the same parameters the service's API takes), and answer the
service's own response: status, JSON body (SQS in its query-compatible JSON form) and errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from cumulo.httpapi import events
from cumulo.httpapi.mapping import Response, evaluate
from cumulo.net import http_client
from cumulo.protocol.errors import AwsError, SerializationError
from cumulo.protocol.http import HttpResponse
from cumulo.protocol.json_codec import write_json
from cumulo.protocol.lambda_proxy import HOP_BY_HOP, MalformedResponse, parse_response
from cumulo.protocol.protocols import error_status
from cumulo.protocol.values import parse_timestamp
from cumulo.services.api_calls import call_api
from cumulo.services.apigatewayv2.addresses import lambda_arn_of

if TYPE_CHECKING:
    from cumulo.httpapi.call import Call
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.httpapi")
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_.\-]+)\}")
# IntegrationSubtype -> (botocore service, operation)
SUBTYPE_TARGETS = {
    "SQS-SendMessage": ("sqs", "SendMessage"),
    "SQS-ReceiveMessage": ("sqs", "ReceiveMessage"),
    "SQS-DeleteMessage": ("sqs", "DeleteMessage"),
    "SQS-PurgeQueue": ("sqs", "PurgeQueue"),
    "EventBridge-PutEvents": ("events", "PutEvents"),
    "StepFunctions-StartExecution": ("stepfunctions", "StartExecution"),
    "StepFunctions-StartSyncExecution": ("stepfunctions", "StartSyncExecution"),
    "StepFunctions-StopExecution": ("stepfunctions", "StopExecution"),
    "Kinesis-PutRecord": ("kinesis", "PutRecord"),
    "AppConfig-GetConfiguration": ("appconfig", "GetConfiguration"),
}
QUERY_STYLE = {"sqs"}  # services whose integration responses keep the query protocol's JSON form


def json_response(status: int, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResponse(status, {"content-type": "application/json", **(headers or {})}, body)


def internal_error() -> HttpResponse:
    return json_response(500, "Internal Server Error")


def unavailable() -> HttpResponse:
    return json_response(503, "Service Unavailable")


async def within(awaitable: Any, timeout: float) -> Any:
    """Wait at most ``timeout`` seconds for ``awaitable`` without cancelling it: an integration that
    outlives its timeout (an invocation under way) finishes on its own and its result is dropped."""
    task = asyncio.ensure_future(awaitable)
    task.add_done_callback(_consume)
    return await asyncio.wait_for(asyncio.shield(task), timeout)


def _consume(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None and not isinstance(task.exception(), AwsError):
        log.warning("integration finished after its timeout with an error: %r", task.exception())


def substitute_stage_variables(text: str, variables: dict[str, str]) -> str:
    return _STAGE_VARIABLE.sub(lambda m: variables.get(m.group(1), ""), text) if "${" in text else text


@dataclass
class Outcome:
    response: HttpResponse
    integration_response: Response | None = field(default=None)


class Integrations:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def run(self, call: Call, integration: dict[str, Any]) -> HttpResponse:
        started = time.perf_counter()
        timeout = (integration.get("TimeoutInMillis") or 30000) / 1000
        try:
            if integration.get("IntegrationType") == "HTTP_PROXY":
                outcome = await self._http(call, integration, timeout)
            elif integration.get("IntegrationSubtype"):
                outcome = await self._service(call, integration, timeout)
            else:
                outcome = await self._lambda(call, integration, timeout)
        finally:
            call.integration_latency = int((time.perf_counter() - started) * 1000)
        if integration.get("ResponseParameters") and outcome.integration_response is not None:
            return self._map_response(call, integration["ResponseParameters"], outcome)
        return outcome.response

    # ------------------------------------------------------------ Lambda proxy
    async def _lambda(self, call: Call, integration: dict[str, Any], timeout: float) -> Outcome:
        function = lambda_arn_of(integration.get("IntegrationUri") or "")
        if function is None:
            call.integration_error = "the integration names no Lambda function"
            return Outcome(internal_error())
        function = substitute_stage_variables(function, call.stage.variables)
        version = integration.get("PayloadFormatVersion") or "2.0"
        event = events.event_v2(call) if version == "2.0" else events.event_v1(call)
        payload = json.dumps(event, separators=(",", ":")).encode()
        api = call.stage.api
        try:
            result = await within(self.platform.functions.invoke_function(function, payload, account=api.account,
                                                          region=api.region), timeout)
        except TimeoutError:
            call.integration_error = "The Lambda function did not answer within the integration timeout"
            call.integration_status = None
            log.warning("HTTP API %s route %s: %s did not answer within %.3g s", api.api_id, call.route_key,
                        function, timeout)
            return Outcome(unavailable())
        except AwsError as error:
            call.integration_status = error.status or 500
            call.integration_error = f"{error.code}: {error.message}"
            log.warning("HTTP API %s route %s: invoking %s failed: %s", api.api_id, call.route_key, function, error)
            return Outcome(internal_error())
        call.integration_request_id = result.get("RequestId")
        call.integration_status = result.get("StatusCode", 200)
        if result.get("FunctionError"):
            call.integration_error = f"The Lambda function returned an error ({result['FunctionError']})"
            log.info("HTTP API %s route %s: %s returned an error: %s", api.api_id, call.route_key, function,
                     (result.get("Payload") or b"")[:300].decode("utf-8", "replace"))
            return Outcome(internal_error())
        try:
            parsed = parse_response(result.get("Payload") or b"", version)
        except MalformedResponse as error:
            call.integration_error = f"Malformed Lambda proxy response: {error}"
            log.warning("HTTP API %s route %s: malformed response from %s: %s", api.api_id, call.route_key,
                        function, error)
            return Outcome(internal_error())
        response = HttpResponse(parsed.status, parsed.headers, parsed.body, parsed.extra_headers)
        return Outcome(response, Response(parsed.status, parsed.headers, parsed.body))

    # ------------------------------------------------------------ AWS service integrations
    async def _service(self, call: Call, integration: dict[str, Any], timeout: float) -> Outcome:
        subtype = integration["IntegrationSubtype"]
        params: dict[str, str] = {}
        for name, expression in (integration.get("RequestParameters") or {}).items():
            value = evaluate(expression, call)
            if value is not None and value != "":
                params[name] = value
        api = call.stage.api
        region = params.pop("Region", None) or api.region
        try:
            if subtype == "Lambda-Invoke":
                return await within(self._invoke_lambda(call, params, region), timeout)
            target = SUBTYPE_TARGETS.get(subtype)
            if target is None:
                call.integration_error = f"Integration subtype {subtype} is not supported"
                return Outcome(internal_error())
            return await within(self._call_service(call, target[0], target[1], params, region), timeout)
        except TimeoutError:
            call.integration_error = f"{subtype} did not answer within the integration timeout"
            return Outcome(unavailable())

    async def _invoke_lambda(self, call: Call, params: dict[str, str], region: str) -> Outcome:
        if not params.get("FunctionName"):
            call.integration_error = "FunctionName is missing"
            return Outcome(json_response(400, "Bad Request"))
        invocation_type = params.get("InvocationType") or "RequestResponse"
        try:
            result = await self.platform.functions.invoke_function(
                params["FunctionName"], (params.get("Payload") or "{}").encode(), account=call.stage.api.account,
                region=region, invocation_type=invocation_type, qualifier=params.get("Qualifier"),
                client_context=params.get("ClientContext"))
        except AwsError as error:
            status = error_status(self.platform.catalog.model("lambda"), error)
            call.integration_status = status
            call.integration_error = f"{error.code}: {error.message}"
            body = json.dumps({"Type": "User", "message": error.message}).encode()
            return Outcome(HttpResponse(status, {"content-type": "application/json", "x-amzn-errortype": error.code},
                                        body))
        call.integration_status = result["StatusCode"]
        call.integration_request_id = result.get("RequestId")
        headers = {"content-type": "application/json"}
        if result.get("FunctionError"):
            headers["x-amz-function-error"] = result["FunctionError"]
            call.integration_error = f"The Lambda function returned an error ({result['FunctionError']})"
        if result.get("ExecutedVersion"):
            headers["x-amz-executed-version"] = result["ExecutedVersion"]
        body = result.get("Payload") or b""
        return Outcome(HttpResponse(result["StatusCode"], headers, body),
                       Response(result["StatusCode"], headers, body))

    async def _call_service(self, call: Call, service: str, operation: str, params: dict[str, str],
                            region: str) -> Outcome:
        if not self.platform.has_service(service):
            call.integration_error = f"The {service} service is not available in this Cumulo build"
            log.warning("HTTP API %s route %s: %s", call.stage.api.api_id, call.route_key, call.integration_error)
            return Outcome(internal_error())
        model = self.platform.catalog.model(service)
        op = model.operation_model(operation)
        request_id = str(uuid.uuid4())
        call.integration_request_id = request_id
        try:
            converted = self._convert(op.input_shape, operation, params)
            result = await call_api(self.platform, service, operation, converted, account=call.stage.api.account,
                                    region=region, request_id=request_id)
        except AwsError as error:
            status = error_status(model, error)
            call.integration_status = status
            call.integration_error = f"{error.code}: {error.message}"
            return Outcome(self._service_error(service, error, status, request_id))
        call.integration_status = 200
        body = self._service_output(service, operation, op.output_shape, result or {}, request_id)
        headers = {"content-type": "application/json", "x-amzn-requestid": request_id}
        return Outcome(HttpResponse(200, headers, body), Response(200, headers, body))

    @staticmethod
    def _convert(shape: Any, operation: str, params: dict[str, str]) -> dict[str, Any]:
        """Mapped string parameters to the operation's input (PutEvents takes one entry)."""
        if operation == "PutEvents":
            return {"Entries": [_members(shape.members["Entries"].member, params)]}
        return _members(shape, params)

    @staticmethod
    def _service_output(service: str, operation: str, shape: Any, result: dict[str, Any], request_id: str) -> bytes:
        if service in QUERY_STYLE:
            members: dict[str, Any] = {}
            if shape is not None:
                for name, member in shape.members.items():
                    value = result.get(name)
                    key = name[:1].lower() + name[1:] if member.type_name == "list" else name
                    members[key] = write_json(member, value) if value is not None else None
            document: dict[str, Any] = {f"{operation}Response": {}}
            if shape is not None and shape.members:
                document[f"{operation}Response"][f"{operation}Result"] = members
            document[f"{operation}Response"]["ResponseMetadata"] = {"RequestId": request_id}
            return json.dumps(document, separators=(",", ":")).encode()
        output = write_json(shape, result) if shape is not None else {}
        return json.dumps(output, separators=(",", ":")).encode()

    @staticmethod
    def _service_error(service: str, error: AwsError, status: int, request_id: str) -> HttpResponse:
        if service in QUERY_STYLE:
            code = getattr(error, "query_code", None) or error.code
            body = {"Error": {"Code": code, "Message": error.message,
                              "Type": "Sender" if error.sender_fault else "Receiver"}, "RequestId": request_id}
        else:
            body = {"__type": error.code, "message": error.message}
        return HttpResponse(status, {"content-type": "application/json", "x-amzn-requestid": request_id,
                                     "x-amzn-errortype": error.code},
                            json.dumps(body, separators=(",", ":")).encode())

    # ------------------------------------------------------------ HTTP proxy
    async def _http(self, call: Call, integration: dict[str, Any], timeout: float) -> Outcome:
        uri = substitute_stage_variables(integration.get("IntegrationUri") or "", call.stage.variables)
        for name, value in call.path_parameters.items():
            greedy = "{" + name + "+}" in call.resource
            uri = uri.replace("{" + name + "+}", quote(value, safe="/"))
            uri = uri.replace("{" + name + "}", quote(value, safe="/" if greedy else ""))
        parts = urlsplit(uri)
        path = parts.path or "/"
        if call.route_key == "$default":
            path = path.rstrip("/") + call.path if path != "/" else call.path
        query = parse_qsl(parts.query, keep_blank_values=True) + list(call.request.query_items)
        headers: dict[str, list[str]] = {n: list(v) for n, v in events.forwarded_headers(call).items()
                                         if n not in ("host", "connection", "content-length")}
        for key, expression in (integration.get("RequestParameters") or {}).items():
            action, _, target = key.partition(":")
            value = evaluate(expression, call)
            if target == "path":
                if action == "overwrite" and value is not None:
                    path = value if value.startswith("/") else "/" + value
            elif target.startswith("header."):
                name = target[len("header."):].lower()
                if action == "remove":
                    headers.pop(name, None)
                elif value is not None:
                    previous = headers.get(name, []) if action == "append" else []
                    headers[name] = [*previous, value]
            elif target.startswith("querystring."):
                name = target[len("querystring."):]
                if action == "remove" or action == "overwrite":
                    query = [(k, v) for k, v in query if k != name]
                if action != "remove" and value is not None:
                    query.append((name, value))
        method = integration.get("IntegrationMethod") or "ANY"
        method = call.method if method == "ANY" else method
        target_url = path + ("?" + urlencode(query) if query else "")
        flat = [(name, value) for name, values in headers.items() for value in values]
        try:
            reply = await http_client.request(method, f"{parts.scheme}://{parts.netloc}{target_url}", flat,
                                              call.request.body, timeout=timeout)
        except TimeoutError as error:
            call.integration_error = f"HTTP integration timed out: {error}"
            return Outcome(unavailable())
        except http_client.HttpClientError as error:
            call.integration_error = f"HTTP integration failed: {error}"
            return Outcome(internal_error())
        status, body = reply.status, reply.body
        call.integration_status = status
        single, extra = reply.relayed_headers(HOP_BY_HOP)
        return Outcome(HttpResponse(status, single, body, extra), Response(status, single, body))

    # ------------------------------------------------------------ response parameter mapping
    def _map_response(self, call: Call, mappings: dict[str, dict[str, str]], outcome: Outcome) -> HttpResponse:
        response = outcome.response
        source = outcome.integration_response
        assert source is not None
        chosen = mappings.get(str(source.status))
        if not chosen:
            return response
        for key, expression in chosen.items():
            action, _, target = key.partition(":")
            value = evaluate(expression, call, source)
            if target == "statuscode" and action == "overwrite" and value and value.isdigit():
                response.status = int(value)
            elif target.startswith("header."):
                name = target[len("header."):].lower()
                if action == "remove":
                    response.headers.pop(name, None)
                    response.extra_headers = [(k, v) for k, v in response.extra_headers if k != name]
                elif value is not None:
                    if action == "append" and name in response.headers:
                        response.extra_headers.append((name, value))
                    else:
                        response.headers[name] = value
        return response


def _members(shape: Any, params: dict[str, str]) -> dict[str, Any]:
    """Parameters (named as the integration subtype names them, PascalCase) by the shape's member
    names, whatever their case (Step Functions' are lowerCamel), converted to the member types."""
    by_lower = {name.lower(): name for name in shape.members}
    converted = {}
    for name, value in params.items():
        member_name = by_lower.get(name.lower(), name)
        converted[member_name] = _coerce(shape.members.get(member_name), value, name)
    return converted


def _coerce(member: Any, value: str, name: str) -> Any:
    """A mapped (string) parameter as the operation's member type."""
    if member is None:
        return value
    kind = member.type_name
    try:
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("float", "double"):
            return float(value)
        if kind == "boolean":
            return value.strip().lower() == "true"
        if kind == "timestamp":
            return parse_timestamp(value)
        if kind == "blob":
            return value.encode()
        if kind in ("map", "structure"):
            return json.loads(value)
        if kind == "list":
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [item.strip() for item in text.split(",")]
    except ValueError:
        raise SerializationError(f"Invalid value for request parameter {name}: {value!r}") from None
    return value


__all__ = ["SUBTYPE_TARGETS", "Integrations"]
