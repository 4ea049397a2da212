"""DynamoDB's errors, worded as DynamoDB words them."""

from __future__ import annotations

from typing import Any

from cumulo.protocol.errors import AwsError


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message, status=400)


def invalid_parameter(message: str) -> AwsError:
    """The "One or more parameter values were invalid" family."""
    return validation(f"One or more parameter values were invalid: {message}")


def table_not_found(name: str | None = None) -> AwsError:
    message = "Requested resource not found"
    if name is not None:
        message += f": Table: {name} not found"
    return AwsError("ResourceNotFoundException", message, status=400)


def resource_in_use(message: str) -> AwsError:
    return AwsError("ResourceInUseException", message, status=400)


def conditional_failed(item: dict[str, Any] | None = None) -> AwsError:
    fields = {"Item": item} if item is not None else None
    return AwsError("ConditionalCheckFailedException", "The conditional request failed", status=400, fields=fields)


def key_mismatch() -> AwsError:
    return validation("The provided key element does not match the schema")
