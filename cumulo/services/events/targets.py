"""Invoking targets: one internal call per target service, chosen by the target ARN.

These are the calls EventBridge and EventBridge Scheduler make into the other services of the
build:

======================  =====================================================================
target ARN              internal call
======================  =====================================================================
``sqs``                 ``providers["sqs"].deliver(queue_arn, body, group_id=None,
                        dedup_id=None)`` (``message_attributes=`` for dead-letter queues)
``sns``                 ``providers["sns"].publish_message(topic_arn, message, group_id=None,
                        dedup_id=None)``
``lambda``              ``providers["lambda"].invoke_function(function_arn, payload_bytes,
                        account=..., region=..., invocation_type="Event", trace_id=...)``
``states``              the StartExecution operation, in-process through
                        ``stepfunctions.calls.call_operation`` (``stateMachineArn``,
                        ``input``, ``traceHeader``)
``logs``                ``providers["logs"].append(account, region, group, stream,
                        [(timestamp_ms, message)])`` (the log group must exist)
``events`` (a bus)      the EventBridge provider's ``ingest(account, region, bus, event, ...)``
``kinesis``             ``providers["kinesis"].put_record_internal(stream_arn, data_bytes,
                        partition_key)`` (PutTargets refuses Kinesis while no such provider
                        exists)
======================  =====================================================================

Each may be sync or async; an ``AwsError`` it raises is the target's answer (see
``from_aws_error`` for which codes are retried). A service missing from the build (ECS,
Batch, Firehose, ... targets), or a provider without the method, is a retryable
``SDK_CLIENT_ERROR``: the delivery follows the retry policy and then the dead-letter queue.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.events.names import parse_arn

# Target errors EventBridge does not retry (the resource is gone, permissions are missing or
# the request can never succeed): they go straight to the dead-letter queue.
NOT_FOUND = {"ResourceNotFoundException", "NotFoundException", "NotFound", "QueueDoesNotExist",
             "AWS.SimpleQueueService.NonExistentQueue", "StateMachineDoesNotExist", "StateMachineDeleted",
             "EndpointDisabled"}
NO_PERMISSIONS = {"AccessDeniedException", "AccessDenied", "AuthorizationError", "KMSAccessDeniedException",
                  "AuthorizationErrorException"}
INVALID = {"InvalidParameterValueException", "InvalidParameterValue", "InvalidParameter",
           "InvalidParameterException", "ValidationException", "InvalidExecutionInput", "InvalidArn",
           "InvalidRequestContentException", "RequestTooLargeException", "InvalidMessageContents",
           "UnsupportedOperation", "KMSDisabledException", "InvalidName"}
THROTTLED = {"ThrottlingException", "TooManyRequestsException", "Throttling", "RequestThrottled",
             "ServiceUnavailableException", "ServiceException", "InternalFailure", "InternalError"}


@dataclass
class TargetError(Exception):
    """A failed invocation: AWS's dead-letter ``ERROR_CODE``, the message, and whether to retry."""

    code: str
    message: str
    retryable: bool = True

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def from_aws_error(error: AwsError) -> TargetError:
    if error.code in NOT_FOUND:
        return TargetError("NO_RESOURCE", error.message or error.code, retryable=False)
    if error.code in NO_PERMISSIONS:
        return TargetError("NO_PERMISSIONS", error.message or error.code, retryable=False)
    if error.code in INVALID:
        return TargetError("INVALID_PARAMETER", error.message or error.code, retryable=False)
    if error.code in THROTTLED:
        return TargetError("THROTTLING", error.message or error.code, retryable=True)
    return TargetError("ERROR_FROM_TARGET", f"{error.code}: {error.message}", retryable=True)


async def call(platform: Any, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``providers[service].method``; AwsError becomes TargetError; absence is retryable."""
    provider = platform.providers.get(service)
    function: Callable[..., Any] | None = getattr(provider, method, None) if provider is not None else None
    if function is None:
        raise TargetError("SDK_CLIENT_ERROR",
                          f"Unable to invoke the target: the {service} service is not available in this build.")
    try:
        result = function(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result
    except AwsError as error:
        raise from_aws_error(error) from error


async def call_api(platform: Any, service: str, operation: str, parameters: dict[str, Any], *, account: str,
                   region: str) -> dict[str, Any]:
    """Run an API operation of another service in-process (``stepfunctions.calls.call_operation``:
    the same conversion and validation as a request from the network); returns its JSON output."""
    from cumulo.services.stepfunctions.calls import CallError, ServiceUnavailable, call_operation

    try:
        output, _ = await call_operation(platform, service, operation, parameters, account=account, region=region)
    except ServiceUnavailable as exc:
        message = f"Unable to invoke the target: the {service} service is not available in this build."
        raise TargetError("SDK_CLIENT_ERROR", message) from exc
    except CallError as failure:
        error = failure.error
        if error.code == "NotImplementedException":
            raise TargetError("SDK_CLIENT_ERROR", error.message) from failure
        raise from_aws_error(error) from failure
    return output


def call_sync(platform: Any, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """``call`` for synchronous internal methods (raises TargetError the same way)."""
    provider = platform.providers.get(service)
    function: Callable[..., Any] | None = getattr(provider, method, None) if provider is not None else None
    if function is None or inspect.iscoroutinefunction(function):
        raise TargetError("SDK_CLIENT_ERROR",
                          f"Unable to invoke the target: the {service} service is not available in this build.")
    try:
        return function(*args, **kwargs)
    except AwsError as error:
        raise from_aws_error(error) from error


def service_of(arn: str) -> str | None:
    parsed = parse_arn(arn)
    return parsed.service if parsed else None


def log_group_name(arn: str) -> str | None:
    """``arn:aws:logs:region:account:log-group:NAME[:*]`` -> NAME."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "logs" or not parsed.resource.startswith("log-group:"):
        return None
    name = parsed.resource[len("log-group:"):]
    return name[:-2] if name.endswith(":*") else name


def _log_entry(payload: str, event_time: str | None) -> tuple[int, str]:
    """(timestamp ms, message) for a log group target; ``{"timestamp", "message"}`` JSON is honoured."""
    timestamp = None
    message = payload
    try:
        document = json.loads(payload)
    except ValueError:
        document = None
    if isinstance(document, dict) and set(document) == {"timestamp", "message"}:
        message = document["message"] if isinstance(document["message"], str) else json.dumps(document["message"])
        timestamp = _parse_time(document["timestamp"])
    if timestamp is None:
        timestamp = _parse_time(event_time)
    if timestamp is None:
        timestamp = int(datetime.now().timestamp() * 1000)
    return timestamp, message


def _parse_time(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value if value > 10**11 else value * 1000)
    if isinstance(value, str) and value:
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            return None
    return None


async def invoke_logs(platform: Any, arn: str, payload: str, *, stream: str, event_time: str | None) -> None:
    parsed = parse_arn(arn)
    group = log_group_name(arn)
    if parsed is None or group is None:
        raise TargetError("INVALID_PARAMETER", f"Invalid log group ARN {arn}", retryable=False)
    logs = platform.providers.get("logs")
    if logs is None:
        raise TargetError("SDK_CLIENT_ERROR", "The logs service is not available in this build.")
    from cumulo.services.logs.provider import GROUPS

    if platform.store.get(GROUPS, f"{parsed.account}:{parsed.region}:{group}") is None:
        raise TargetError("NO_RESOURCE", "The specified log group does not exist.", retryable=False)
    await call(platform, "logs", "append", parsed.account, parsed.region, group, stream,
               [_log_entry(payload, event_time)])
