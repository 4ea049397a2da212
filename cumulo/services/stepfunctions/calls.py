"""How a workflow task's in-process API calls (``services.api_calls.call_json_api``) look to it.

Errors keep their AWS code, message and status; `sdk_error` names them the way the AWS SDK for
Java that Step Functions runs on reports them (``SQS.AmazonSQSException``,
``Lambda.ResourceNotFoundException``, ``S3.NoSuchBucketException``...).
"""

from __future__ import annotations

import re
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from cumulo.protocol.protocols import error_shape
from cumulo.services.api_calls import CallError

if TYPE_CHECKING:
    from cumulo.platform import Platform

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


def operation_name(platform: Platform, service: str, action: str) -> str | None:
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


def exception_name(platform: Platform, service: str, code: str) -> str | None:
    """The SDK's exception class for an error code the service models (None if it does not)."""
    shape = error_shape(platform.catalog.model(service), code)
    if shape is None:
        return None
    return shape.name if shape.name.endswith("Exception") else shape.name + "Exception"


def optimized_error(platform: Platform, service: str, failure: CallError) -> tuple[str, str]:
    """(error, cause) of a failed optimized-integration call, as Step Functions reports them."""
    prefix, java_service, generic = OPTIMIZED_NAMES.get(service, (service.upper(), service, "Exception"))
    error = failure.error
    name = exception_name(platform, service, error.code) or generic
    cause = (f"{error.message} (Service: {java_service}; Status Code: {failure.status}; Error Code: {error.code}; "
             f"Request ID: {failure.request_id}; Proxy: null)")
    return f"{prefix}.{name}", cause


def sdk_service_name(platform: Platform, service: str) -> str:
    """The AWS SDK for Java v2 client name of a service (``DynamoDb``, ``Sqs``, ``CloudWatchLogs``)."""
    try:
        service_id = platform.catalog.model(service).metadata.get("serviceId", service)
    except Exception:
        service_id = service
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", service_id)
    return "".join(word[:1].upper() + word[1:].lower() for word in words) or service


def sdk_error(platform: Platform, service: str, failure: CallError) -> tuple[str, str]:
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
