"""SQS's errors, with the codes both of its wire protocols use.

SQS moved from the query protocol to JSON keeping query compatibility: a JSON error names the
error shape (``QueueDoesNotExist``, which SDKs map to their exception class) and carries the
historical query code in ``x-amzn-query-error`` (``AWS.SimpleQueueService.NonExistentQueue``),
which is also the ``<Code>`` of a query-protocol error.
"""

from __future__ import annotations

from cumulo.protocol.errors import AwsError

# shape name -> the query protocol's code, where they differ
QUERY_CODES = {
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
    "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
}
STATUS = {"PurgeQueueInProgress": 403, "OverLimit": 403, "ResourceNotFoundException": 404}


def sqs_error(code: str, message: str) -> AwsError:
    return AwsError(code, message, status=STATUS.get(code, 400), query_code=QUERY_CODES.get(code))


def invalid_value(message: str) -> AwsError:
    return sqs_error("InvalidParameterValue", message)


def invalid_parameter(name: str, value: object, reason: str) -> AwsError:
    return invalid_value(f"Value {value} for parameter {name} is invalid. Reason: {reason}")


def missing(name: str) -> AwsError:
    return sqs_error("MissingParameter", f"The request must contain the parameter {name}.")


def queue_not_found() -> AwsError:
    # The query protocol words it differently (cumulo/protocol/sqs_wire.py).
    return sqs_error("QueueDoesNotExist", "The specified queue does not exist.")


def unknown_attribute(name: str) -> AwsError:
    return sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")


def invalid_attribute(name: str, reason: str | None = None) -> AwsError:
    message = f"Invalid value for the parameter {name}."
    if reason:
        message = f"Invalid value for the parameter {name}. Reason: {reason}"
    return sqs_error("InvalidAttributeValue", message)


def invalid_receipt(receipt: str) -> AwsError:
    return sqs_error("ReceiptHandleIsInvalid", f'The input receipt handle "{receipt}" is not a valid receipt handle.')
