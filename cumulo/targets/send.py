"""Delivering one payload to a target ARN: the switch over target kinds (see the package docstring).

``send`` delivers to any kind; ``send_now`` delivers to the kinds that can be written inside
the caller's open store transaction (SQS, SNS, an event bus with ``bus_event`` set), which is
how a durable queue settles a job and its delivery in one commit. Both raise ``TargetError``.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cumulo.arns import parse_arn, service_of
from cumulo.protocol.errors import AwsError
from cumulo.services.api_calls import CallError, ServiceUnavailable, call_json_api
from cumulo.targets.errors import TargetError, from_aws_error, unavailable
from cumulo.targets.log_groups import log_entry, log_group_name

if TYPE_CHECKING:
    from cumulo.platform import Platform


@dataclass(frozen=True)
class BusEvent:
    """How a payload becomes an event when the target is an event bus (the payload is its detail)."""

    source: str
    detail_type: str
    resources: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Delivery:
    """Who delivers, and what travels with the payload to the kinds that use it."""

    account: str = ""  # the caller's account and region (Lambda and Step Functions act in them)
    region: str = ""
    group_id: str | None = None  # SQS/SNS FIFO MessageGroupId
    dedup_id: str | None = None  # SQS/SNS FIFO MessageDeduplicationId
    message_attributes: dict[str, Any] | None = None  # SQS/SNS message attributes, wire shaped
    sender: str | None = None  # the SenderId SQS records (the delivering account by default)
    trace_header: str | None = None  # X-Ray trace header (Lambda, Step Functions)
    log_stream: str = ""  # the stream a log group target writes to
    event_time: str | None = None  # a log event's time when the payload does not give one
    bus_event: BusEvent | None = None  # an event bus target: the event to put
    http_parameters: dict[str, Any] | None = None  # an API destination target's HttpParameters
    partition_key: str | None = None  # a Kinesis stream target's PartitionKey (a new UUID when None)


def can_send_now(arn: str, delivery: Delivery) -> bool:
    service = service_of(arn)
    return service in ("sqs", "sns") or (service == "events" and delivery.bus_event is not None)


def send_now(platform: Platform, arn: str, body: str, delivery: Delivery) -> None:
    """Deliver to a queue, topic or bus inside the caller's transaction (``can_send_now`` kinds)."""
    service = service_of(arn)
    try:
        if service == "sqs":
            platform.queues.deliver(arn, body, message_attributes=delivery.message_attributes,
                                    group_id=delivery.group_id, dedup_id=delivery.dedup_id, sender=delivery.sender)
        elif service == "sns":
            platform.topics.publish_message(arn, body, message_attributes=delivery.message_attributes,
                                            group_id=delivery.group_id, dedup_id=delivery.dedup_id)
        elif service == "events" and delivery.bus_event is not None:
            _put_on_bus(platform, arn, body, delivery.bus_event)
        else:
            raise TargetError("SDK_CLIENT_ERROR", f"Unable to invoke the target: {service} targets can't be "
                                                  "delivered synchronously.")
    except AwsError as error:
        raise from_aws_error(error) from error


async def send(platform: Platform, arn: str, body: str, delivery: Delivery) -> None:
    """Deliver ``body`` to the target ``arn``, whatever its kind."""
    if can_send_now(arn, delivery):
        send_now(platform, arn, body, delivery)
        return
    service = service_of(arn)
    if service == "events" and ":api-destination/" in arn:
        await platform.events.invoke_api_destination(arn, body, delivery.http_parameters)
    elif service == "lambda":
        traced = {"trace_id": delivery.trace_header} if delivery.trace_header else {}
        try:
            await platform.functions.invoke_function(arn, body.encode(), account=delivery.account,
                                                     region=delivery.region, invocation_type="Event", **traced)
        except AwsError as error:
            raise from_aws_error(error) from error
    elif service == "states":
        parameters: dict[str, Any] = {"stateMachineArn": arn, "input": body}
        if delivery.trace_header:
            parameters["traceHeader"] = delivery.trace_header
        await call_target_api(platform, "stepfunctions", "StartExecution", parameters, account=delivery.account,
                              region=delivery.region)
    elif service == "logs":
        _append_to_log_group(platform, arn, body, delivery)
    elif service == "kinesis":
        await call_target_api(platform, "kinesis", "PutRecord", {
            "StreamARN": arn, "Data": base64.b64encode(body.encode()).decode(),
            "PartitionKey": delivery.partition_key or str(uuid.uuid4())}, account=delivery.account,
            region=delivery.region)
    else:
        raise TargetError("SDK_CLIENT_ERROR", f"Unable to invoke the target: {service} targets are not available in "
                                              "this build.")


async def call_target_api(platform: Platform, service: str, operation: str, parameters: dict[str, Any], *,
                          account: str, region: str) -> dict[str, Any]:
    """An API operation as a target (Step Functions, Scheduler's universal targets); returns its JSON output."""
    try:
        output, _ = await call_json_api(platform, service, operation, parameters, account=account, region=region)
    except ServiceUnavailable as exc:
        raise unavailable(service) from exc
    except CallError as failure:
        error = failure.error
        if error.code == "NotImplementedException":
            raise TargetError("SDK_CLIENT_ERROR", error.message) from failure
        raise from_aws_error(error) from failure
    return output


def _put_on_bus(platform: Platform, arn: str, body: str, event: BusEvent) -> None:
    parsed = parse_arn(arn)
    if parsed is None or not parsed.resource.startswith("event-bus/"):
        raise TargetError("INVALID_PARAMETER", f"{arn} is not an event bus.", retryable=False)
    platform.events.put_event_internal(parsed.account, parsed.region, parsed.resource[len("event-bus/"):],
                                       source=event.source, detail_type=event.detail_type, detail=json.loads(body),
                                       resources=list(event.resources))


def _append_to_log_group(platform: Platform, arn: str, body: str, delivery: Delivery) -> None:
    parsed = parse_arn(arn)
    group = log_group_name(arn)
    if parsed is None or group is None:
        raise TargetError("INVALID_PARAMETER", f"Invalid log group ARN {arn}", retryable=False)
    if not platform.logs.group_exists(parsed.account, parsed.region, group):
        raise TargetError("NO_RESOURCE", "The specified log group does not exist.", retryable=False)
    try:
        platform.logs.append(parsed.account, parsed.region, group, delivery.log_stream,
                             [log_entry(body, delivery.event_time)])
    except AwsError as error:
        raise from_aws_error(error) from error
