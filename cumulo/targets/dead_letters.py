"""Dead-letter queues: the message attributes AWS writes on a failed delivery, and sending there.

Two families, kept in their exact AWS formats:

* EventBridge and EventBridge Scheduler (String attributes): ``RULE_ARN`` or ``SCHEDULE_ARN``,
  ``TARGET_ARN``, ``ERROR_CODE`` (a ``TargetError`` code), ``ERROR_MESSAGE``, ``RETRY_ATTEMPTS``,
  Scheduler's ``INVOCATION_ID``, and ``EXHAUSTED_RETRY_CONDITION`` when the retry policy ran out;
* Lambda's asynchronous invocations (a function's ``DeadLetterConfig``, SQS or SNS):
  ``RequestID`` (String), ``ErrorCode`` (Number: the invocation's status code), ``ErrorMessage``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from cumulo.targets.errors import TargetError
from cumulo.targets.send import Delivery, send_now

if TYPE_CHECKING:
    from cumulo.platform import Platform

log = logging.getLogger("cumulo.targets")
MAX_ERROR_MESSAGE = 1024


def delivery_failure_attributes(origin_attribute: str, origin: str, target_arn: str, error: TargetError,
                                retries: int, exhausted: str | None,
                                extra: dict[str, str] | None = None) -> dict[str, str]:
    """EventBridge's (``RULE_ARN``) and Scheduler's (``SCHEDULE_ARN``) dead-letter attributes."""
    attributes = {origin_attribute: origin, "TARGET_ARN": target_arn, "ERROR_CODE": error.code,
                  "ERROR_MESSAGE": error.message, "RETRY_ATTEMPTS": str(max(retries, 0)), **(extra or {})}
    if exhausted:
        attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
    return attributes


def invocation_failure_attributes(request_id: str, status_code: int, message: str) -> dict[str, Any]:
    """Lambda's dead-letter attributes for a failed asynchronous invocation (wire shaped)."""
    return {"RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": str(status_code)},
            "ErrorMessage": {"DataType": "String", "StringValue": message[:MAX_ERROR_MESSAGE] or "Unhandled"}}


def send_to_dead_letter_queue(platform: Platform, arn: str, body: str, attributes: dict[str, str],
                              account: str, region: str) -> bool:
    """Send a failed delivery's payload with String ``attributes`` to an SQS queue; False if refused."""
    wire = {name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()}
    try:
        send_now(platform, arn, body, Delivery(account=account, region=region, message_attributes=wire))
    except Exception as exc:  # the DLQ itself is gone or refuses the message
        log.warning("could not send to dead-letter queue %s: %s", arn, exc)
        return False
    return True
