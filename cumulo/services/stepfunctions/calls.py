"""Calling another service's API operation in-process, as a workflow task does.

A task that sends an SQS message or publishes to SNS calls the target provider's operation
method with the same parameters the API takes (the most stable interface between providers),
after the same conversion and validation the gateway applies to a request from the network. The
answer is the operation's output as JSON (what the API would have returned on the wire).

Errors keep their AWS code, message and status; `sdk_error` names them the way the AWS SDK for
Java that Step Functions runs on reports them (``SQS.AmazonSQSException``,
``Lambda.ResourceNotFoundException``, ``S3.NoSuchBucketException``...).
"""

from __future__ import annotations

import json
import re
import uuid
from email.utils import formatdate
from typing import Any

from cumulo.protocol.errors import AwsError, SerializationError
from cumulo.protocol.http import HttpResponse
from cumulo.protocol.protocols import error_shape
from cumulo.protocol.values import decode_blob, encode_blob, format_timestamp, parse_timestamp
from cumulo.services.base import Provider, RequestContext, json_protocol_request, run_operation


class ServiceUnavailable(Exception):
    """The target service is not part of this build."""


class CallError(Exception):
    """An operation answered with an AWS error."""

    def __init__(self, error: AwsError, request_id: str, status: int) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error
        self.request_id = request_id
        self.status = status


# Optimized integrations: (error prefix, Java v1 service name in causes, generic exception name)
OPTIMIZED_NAMES = {
    "lambda": ("Lambda", "AWSLambda", "AWSLambdaException"),
    "sqs": ("SQS", "AmazonSQS", "AmazonSQSException"),
    "sns": ("SNS", "AmazonSNS", "AmazonSNSException"),
    "events": ("EventBridge", "AmazonEventBridge", "AmazonEventBridgeException"),
    "stepfunctions": ("StepFunctions", "AWSStepFunctions", "AWSStepFunctionsException"),
}

# aws-sdk integration service names that differ from botocore's
SDK_SERVICES = {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs",
                "cloudwatchevents": "events", "apigatewayv2": "apigatewayv2"}


async def call_operation(platform: Any, service: str, operation: str, params: dict[str, Any], *,
                         account: str, region: str) -> tuple[dict[str, Any], str]:
    """Run ``operation`` of ``service`` with JSON ``params``; returns (JSON output, request id)."""
    provider: Provider | None = platform.providers.get(service)
    if provider is None:
        raise ServiceUnavailable(service)
    model = platform.catalog.model(service)
    op = model.operation_model(operation)
    request_id = str(uuid.uuid4())
    try:
        converted = from_json(op.input_shape, params, "") if op.input_shape is not None else {}
        context = RequestContext(request_id=request_id, region=region, account_id=account, service=service,
                                 operation=operation, request=json_protocol_request(model, operation),
                                 base_url=platform.settings.endpoint_url)
        result = await run_operation(provider, op, context, converted or {})
        if isinstance(result, HttpResponse):  # a provider that answers with its own wire format
            result = json.loads(result.body or b"{}") if result.body.strip().startswith(b"{") else {}
    except AwsError as error:
        status = error.status or int((error_shape(model, error.code) or _NoShape).metadata.get(
            "error", {}).get("httpStatusCode", 400 if error.sender_fault else 500))
        raise CallError(error, request_id, status) from None
    if not isinstance(result, dict):
        result = {}
    return to_json(op.output_shape, result) if op.output_shape is not None else {}, request_id


def from_json(shape: Any, value: Any, where: str) -> Any:
    """JSON parameters to the Python values a provider receives, by member name (every location:
    path, query and header members included, as the gateway's parsers deliver them)."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and not shape.metadata.get("document"):
        if not isinstance(value, dict):
            raise SerializationError(f"Unexpected value at '{where or '$'}': expected structure")
        return {name: from_json(shape.members[name], item, f"{where}.{name}" if where else name)
                for name, item in value.items() if name in shape.members}
    if kind == "list" and isinstance(value, list):
        return [from_json(shape.member, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {key: from_json(shape.value, item, f"{where}.{key}") for key, item in value.items()}
    if kind == "blob" and isinstance(value, str):
        try:
            return decode_blob(value)
        except ValueError:
            return value.encode()
    if kind == "timestamp" and isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            raise SerializationError(f"Invalid timestamp at '{where}': {value!r}") from exc
    if kind in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_json(shape: Any, value: Any) -> Any:
    """A provider's output as JSON, by member name (header and status-code members included)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        if shape is not None and shape.type_name == "blob" and not shape.serialization.get("eventstream"):
            return encode_blob(value)
        return value.decode("utf-8", "replace")
    if shape is None:
        return value if isinstance(value, str | int | float | bool | list | dict) else str(value)
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict) and not shape.metadata.get("document"):
        return {name: to_json(shape.members.get(name), item) for name, item in value.items()
                if item is not None and name in shape.members}
    if kind == "list" and isinstance(value, list):
        return [to_json(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: to_json(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return format_timestamp(value, "iso8601")
    return value


class _NoShape:
    metadata: dict[str, Any] = {}


def operation_name(platform: Any, service: str, action: str) -> str | None:
    """The API operation an integration action names (``sendMessage`` -> ``SendMessage``)."""
    try:
        model = platform.catalog.model(service)
    except Exception:
        return None
    wanted = action.lower()
    for name in model.operation_names:
        if name.lower() == wanted:
            return name
    return None


def exception_name(platform: Any, service: str, code: str) -> str | None:
    """The SDK's exception class for an error code the service models (None if it does not)."""
    shape = error_shape(platform.catalog.model(service), code)
    if shape is None:
        return None
    return shape.name if shape.name.endswith("Exception") else shape.name + "Exception"


def optimized_error(platform: Any, service: str, failure: CallError) -> tuple[str, str]:
    """(error, cause) of a failed optimized-integration call, as Step Functions reports them."""
    prefix, java_service, generic = OPTIMIZED_NAMES.get(service, (service.upper(), service, "Exception"))
    error = failure.error
    name = exception_name(platform, service, error.code) or generic
    cause = (f"{error.message} (Service: {java_service}; Status Code: {failure.status}; Error Code: {error.code}; "
             f"Request ID: {failure.request_id}; Proxy: null)")
    return f"{prefix}.{name}", cause


def sdk_service_name(platform: Any, service: str) -> str:
    """The AWS SDK for Java v2 client name of a service (``DynamoDb``, ``Sqs``, ``CloudWatchLogs``)."""
    try:
        service_id = platform.catalog.model(service).metadata.get("serviceId", service)
    except Exception:
        service_id = service
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", service_id)
    return "".join(word[:1].upper() + word[1:].lower() for word in words) or service


def sdk_error(platform: Any, service: str, failure: CallError) -> tuple[str, str]:
    """(error, cause) of a failed aws-sdk integration call."""
    client = sdk_service_name(platform, service)
    error = failure.error
    name = exception_name(platform, service, error.code) or f"{client}Exception"
    cause = f"{error.message} (Service: {client}, Status Code: {failure.status}, Request ID: {failure.request_id})"
    return f"{client}.{name}", cause


def sdk_metadata(request_id: str, content_type: str, length: int,
                 extra: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``SdkHttpMetadata`` and ``SdkResponseMetadata`` members of optimized integration outputs."""
    headers = {"Connection": "keep-alive", "Content-Length": str(length), "Content-Type": content_type,
               "Date": formatdate(usegmt=True), "x-amzn-RequestId": request_id, **(extra or {})}
    return {
        "SdkHttpMetadata": {"AllHttpHeaders": {k: [v] for k, v in headers.items()}, "HttpHeaders": headers,
                            "HttpStatusCode": 200},
        "SdkResponseMetadata": {"RequestId": request_id},
    }


def pascal_input(shape: Any, value: Any) -> Any:
    """aws-sdk integration parameters (PascalCase) to the API's member names (any case)."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict) and not shape.metadata.get("document"):
        by_lower = {name.lower(): (name, member) for name, member in shape.members.items()}
        out = {}
        for key, item in value.items():
            found = by_lower.get(key.lower())
            if found is None:
                out[key] = item
            else:
                out[found[0]] = pascal_input(found[1], item)
        return out
    if kind == "list" and isinstance(value, list):
        return [pascal_input(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: pascal_input(shape.value, item) for key, item in value.items()}
    return value


def pascal_output(shape: Any, value: Any) -> Any:
    """API output to aws-sdk integration output: structure members in PascalCase."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict) and not shape.metadata.get("document"):
        out = {}
        for key, item in value.items():
            member = shape.members.get(key)
            out[key[:1].upper() + key[1:]] = pascal_output(member, item)
        return out
    if kind == "list" and isinstance(value, list):
        return [pascal_output(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: pascal_output(shape.value, item) for key, item in value.items()}
    return value
