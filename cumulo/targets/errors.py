"""A target's failure as AWS reports it: the ``ERROR_CODE`` family, the message, retry or not."""

from __future__ import annotations

from dataclasses import dataclass

from cumulo.protocol.errors import AwsError

# Target errors AWS does not retry (the resource is gone, permissions are missing or the request
# can never succeed): they go straight to the dead-letter queue.
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


def unavailable(service: str) -> TargetError:
    """A service this build does not have: retryable, as a client error of AWS's SDK would be."""
    return TargetError("SDK_CLIENT_ERROR",
                       f"Unable to invoke the target: the {service} service is not available in this build.")
