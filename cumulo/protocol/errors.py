"""AWS errors as raised by providers and by the protocol layer.

A provider raises ``AwsError(code, message)``; the serializer of the request's protocol
turns it into the exact wire shape (``__type`` for JSON, ``<ErrorResponse>`` for query,
headers for rest-json). The HTTP status comes from the service model's error shape when the
code names one, so providers rarely pass it.
"""

from __future__ import annotations

from typing import Any


class AwsError(Exception):
    """An error with an AWS error code, message and (optionally) extra members.

    ``fields`` are extra members of the error shape (for example Lambda's ``Type`` or a
    ``Reason``); ``headers`` are added to the HTTP response. ``query_code`` is the code the
    query protocol uses when it differs from ``code`` and the model does not record it (SQS's
    JSON model names errors by shape, ``QueueDoesNotExist``, while its query protocol and the
    ``x-amzn-query-error`` header say ``AWS.SimpleQueueService.NonExistentQueue``).
    """

    def __init__(self, code: str, message: str = "", status: int | None = None,
                 sender_fault: bool = True, fields: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, query_code: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        self.fields = fields or {}
        self.headers = headers or {}
        self.query_code = query_code


class ValidationError(AwsError):
    """Input that breaks the operation's model constraints.

    The code depends on the protocol family (``ValidationException`` for JSON services,
    ``ValidationError`` for query services); the dispatcher fills it in.
    """

    def __init__(self, problems: list[str]) -> None:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        message = f"{count} validation {noun} detected: " + "; ".join(problems)
        super().__init__("ValidationException", message, status=400)
        self.problems = problems


class SerializationError(AwsError):
    """The request body could not be read as the operation's input shape."""

    def __init__(self, message: str) -> None:
        super().__init__("SerializationException", message, status=400)


def not_found(code: str, message: str) -> AwsError:
    return AwsError(code, message, status=404)
