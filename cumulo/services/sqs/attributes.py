"""Queue attributes: defaults, validation and normalization, with SQS's limits and wording.

Attributes travel as strings. A queue record keeps the settable ones normalized (integers
without leading zeros, booleans lower case, policies as compact JSON); the computed ones
(message counts, timestamps, ARN) are filled in when read.
"""

from __future__ import annotations

import json
from typing import Any

from cumulo.arns import split_arn
from cumulo.services.sqs.errors import invalid_attribute, invalid_parameter, sqs_error, unknown_attribute

INTEGER_RANGES = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}
DEFAULTS = {
    "DelaySeconds": "0",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
    "SqsManagedSseEnabled": "true",
}
FIFO_DEFAULTS = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}
ENUMS = {"DeduplicationScope": ("messageGroup", "queue"), "FifoThroughputLimit": ("perQueue", "perMessageGroupId")}
BOOLEANS = ("SqsManagedSseEnabled", "ContentBasedDeduplication", "FifoQueue")
# Settable on every queue; "" clears the optional ones.
SETTABLE = (*INTEGER_RANGES, "Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId",
            "SqsManagedSseEnabled")
FIFO_ONLY = ("FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")
READ_ONLY = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn")
OPTIONAL = ("Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId")
ALL_NAMES = (*READ_ONLY, *SETTABLE, *FIFO_ONLY)
# The order GetQueueAttributes(All) lists them in, as SQS does.
ORDER = ("QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
         "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp", "VisibilityTimeout",
         "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds", "Policy", "RedrivePolicy",
         "RedriveAllowPolicy", "ReceiveMessageWaitTimeSeconds", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
         "SqsManagedSseEnabled", "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
         "FifoThroughputLimit")
REDRIVE_PERMISSIONS = ("allowAll", "denyAll", "byQueue")
MAX_RECEIVE_COUNT = (1, 1000)
MAX_REDRIVE_SOURCES = 10


def defaults(fifo: bool) -> dict[str, str]:
    return {**DEFAULTS, **(FIFO_DEFAULTS if fifo else {})}


def normalize(attributes: dict[str, str], fifo: bool, creating: bool) -> dict[str, str]:
    """Check names and values; returns the normalized values ("" means "remove")."""
    result: dict[str, str] = {}
    for name, raw in attributes.items():
        value = "" if raw is None else str(raw)
        if name in READ_ONLY or name not in ALL_NAMES:
            raise unknown_attribute(name)
        if name in FIFO_ONLY and not fifo:
            if name in ("DeduplicationScope", "FifoThroughputLimit"):
                raise sqs_error("InvalidAttributeName",
                                f"You can specify the {name} only when FifoQueue is set to true.")
            raise unknown_attribute(name)
        result[name] = _normalize_one(name, value, creating)
    return result


def _normalize_one(name: str, value: str, creating: bool) -> str:
    if name in INTEGER_RANGES:
        low, high = INTEGER_RANGES[name]
        try:
            number = int(value.strip())
        except ValueError:
            raise invalid_attribute(name) from None
        if not low <= number <= high:
            raise invalid_attribute(name)
        return str(number)
    if name in BOOLEANS:
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise invalid_attribute(name)
        if name == "FifoQueue" and lowered != "true":
            raise invalid_attribute(name, None if creating else "Modifying queue type is not supported.")
        return lowered
    if name in ENUMS:
        if value not in ENUMS[name]:
            raise invalid_attribute(name)
        return value
    if name == "Policy":
        return _json_policy(name, value)
    if name == "RedrivePolicy":
        return redrive_policy(value)
    if name == "RedriveAllowPolicy":
        return redrive_allow_policy(value)
    return value  # KmsMasterKeyId: recorded as given


def _json_policy(name: str, value: str) -> str:
    if not value:
        return ""
    try:
        document = json.loads(value)
    except ValueError:
        raise invalid_attribute(name) from None
    if not isinstance(document, dict):
        raise invalid_attribute(name)
    return json.dumps(document, separators=(",", ":"))


def redrive_policy(value: str) -> str:
    if not value:
        return ""

    def bad(reason: str) -> Exception:
        return invalid_parameter("RedrivePolicy", value, reason)

    try:
        document = json.loads(value)
    except ValueError:
        raise bad("Redrive policy is not a valid JSON map.") from None
    if not isinstance(document, dict):
        raise bad("Redrive policy is not a valid JSON map.")
    for key in ("deadLetterTargetArn", "maxReceiveCount"):
        if key not in document:
            raise bad(f"Redrive policy does not contain mandatory attribute: {key}.")
    unknown = sorted(set(document) - {"deadLetterTargetArn", "maxReceiveCount"})
    if unknown:
        raise bad("Only following attributes are supported: [deadLetterTargetArn, maxReceiveCount].")
    count = document["maxReceiveCount"]
    try:
        number = int(str(count).strip())
    except ValueError:
        number = None
    if number is None or isinstance(count, bool) or not MAX_RECEIVE_COUNT[0] <= number <= MAX_RECEIVE_COUNT[1]:
        raise bad(f"Invalid value for maxReceiveCount: {count}, valid values are from 1 to 1000 both inclusive.")
    target = document["deadLetterTargetArn"]
    arn = split_arn(target) if isinstance(target, str) else None
    if arn is None or ":" in arn.resource:
        raise bad("Invalid value for deadLetterTargetArn.")
    return json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": number}, separators=(",", ":"))


def redrive_allow_policy(value: str) -> str:
    if not value:
        return ""
    reason = "Amazon SQS can't create the redrive allow policy, as it's in an unsupported format."
    try:
        document = json.loads(value)
    except ValueError:
        raise invalid_parameter("RedriveAllowPolicy", value, reason) from None
    if not isinstance(document, dict) or document.get("redrivePermission") not in REDRIVE_PERMISSIONS:
        raise invalid_parameter("RedriveAllowPolicy", value, reason)
    permission = document["redrivePermission"]
    sources = document.get("sourceQueueArns")
    if set(document) - {"redrivePermission", "sourceQueueArns"}:
        raise invalid_parameter("RedriveAllowPolicy", value, reason)
    if permission == "byQueue":
        if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
            raise invalid_parameter("RedriveAllowPolicy", value, reason)
        if len(sources) > MAX_REDRIVE_SOURCES:
            raise invalid_parameter("RedriveAllowPolicy", value,
                                    f"Maximum number of source queue ARNs you can specify is {MAX_REDRIVE_SOURCES}.")
        return json.dumps({"redrivePermission": permission, "sourceQueueArns": sources}, separators=(",", ":"))
    if sources:
        raise invalid_parameter("RedriveAllowPolicy", value, reason)
    return json.dumps({"redrivePermission": permission}, separators=(",", ":"))


def redrive_allows(allow_policy: str | None, source_arn: str) -> bool:
    """Whether a dead-letter queue's RedriveAllowPolicy lets ``source_arn`` use it."""
    if not allow_policy:
        return True
    document = json.loads(allow_policy)
    permission = document.get("redrivePermission")
    if permission == "denyAll":
        return False
    if permission == "byQueue":
        return source_arn in document.get("sourceQueueArns", [])
    return True


def apply(current: dict[str, str], changes: dict[str, str]) -> dict[str, str]:
    """The attributes after a change: "" removes optional ones; KMS and SSE-SQS exclude each other."""
    result = dict(current)
    for name, value in changes.items():
        if value == "" and name in OPTIONAL:
            result.pop(name, None)
            if name == "KmsMasterKeyId":
                result.pop("KmsDataKeyReusePeriodSeconds", None)
        else:
            result[name] = value
    if changes.get("KmsMasterKeyId"):
        result["SqsManagedSseEnabled"] = "false"
        result.setdefault("KmsDataKeyReusePeriodSeconds", "300")
    elif changes.get("SqsManagedSseEnabled") == "true":
        result.pop("KmsMasterKeyId", None)
        result.pop("KmsDataKeyReusePeriodSeconds", None)
    return result


def differing(current: dict[str, str], requested: dict[str, str], fifo: bool) -> str | None:
    """The first requested attribute whose value differs from the queue's (CreateQueue on an existing name)."""
    effective = {**defaults(fifo), **current}
    for name, value in requested.items():
        if value == "" and name in OPTIONAL:
            if name in current:
                return name
            continue
        if effective.get(name) != value:
            return name
    return None


def ordered(values: dict[str, Any]) -> dict[str, Any]:
    rank = {name: index for index, name in enumerate(ORDER)}
    return dict(sorted(values.items(), key=lambda item: rank.get(item[0], len(rank))))
