"""Calling a service's API operation in-process: ``call_api`` (native values) and ``call_json_api``.

Workflow tasks, EventBridge's Step Functions targets, Scheduler's universal targets and the
deployment engine's resource handlers all call another service's operation method with the
parameters its API takes (the most stable interface between services), through the operation
runner the gateway uses (``services.base.run_operation``): the same model validation, with the
service's own error codes, the same handler lookup, the same answers.

``call_api`` takes and returns the values a provider sees (what the gateway's parsers deliver);
``call_json_api`` takes and returns the JSON the API has on the wire (blobs base64, timestamps
ISO 8601), and reports an AWS error with its request id and HTTP status (``CallError``).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError, SerializationError
from cumulo.protocol.protocols import error_shape
from cumulo.protocol.values import decode_blob, encode_blob, format_timestamp, parse_timestamp
from cumulo.services.base import RequestContext, run_operation

if TYPE_CHECKING:
    from cumulo.platform import Platform


class ServiceUnavailable(Exception):
    """The target service is not part of this build."""


class CallError(Exception):
    """An operation answered with an AWS error."""

    def __init__(self, error: AwsError, request_id: str, status: int) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error
        self.request_id = request_id
        self.status = status


async def call_api(platform: Platform, service: str, operation: str, params: dict[str, Any], *, account: str,
                   region: str, request_id: str | None = None) -> Any:
    """Run ``operation`` of ``service`` on provider-ready ``params``; returns the provider's output.

    Raises ``ServiceUnavailable`` when the build has no such service, and the operation's
    ``AwsError``s (validation included) as they are.
    """
    provider = platform.serving(service)
    if provider is None:
        raise ServiceUnavailable(service)
    model = platform.catalog.model(service)
    context = RequestContext(request_id=request_id or str(uuid.uuid4()), region=region, account_id=account,
                             service=service, operation=operation, base_url=platform.settings.endpoint_url)
    return await run_operation(provider, model.operation_model(operation), context, params)


async def call_json_api(platform: Platform, service: str, operation: str, params: dict[str, Any], *,
                        account: str, region: str) -> tuple[dict[str, Any], str]:
    """Run ``operation`` of ``service`` with JSON ``params``; returns (JSON output, request id).

    Raises ``ServiceUnavailable``, or ``CallError`` for an AWS error (with the HTTP status the
    service models for it).
    """
    if platform.serving(service) is None:
        raise ServiceUnavailable(service)
    model = platform.catalog.model(service)
    op = model.operation_model(operation)
    request_id = str(uuid.uuid4())
    try:
        converted = from_json(op.input_shape, params, "") if op.input_shape is not None else {}
        result = await call_api(platform, service, operation, converted or {}, account=account, region=region,
                                request_id=request_id)
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
