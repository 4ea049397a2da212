"""The client errors Lambda's operations answer with (all ``Type: User``, as AWS marks them)."""

from __future__ import annotations

from cumulo.protocol.errors import AwsError


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValueException", message, fields={"Type": "User"})


def conflict(message: str) -> AwsError:
    return AwsError("ResourceConflictException", message, fields={"Type": "User"})


def precondition_failed() -> AwsError:
    return AwsError("PreconditionFailedException",
                    "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/"
                    "GetAlias API to retrieve the latest Revision Id", fields={"Type": "User"})
