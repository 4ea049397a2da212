"""The provider pattern: one class per AWS service, one method per operation.

A provider method is named after the operation in snake case (``CreateFunction`` ->
``create_function``), takes the request context and the parsed, validated input dict, and
returns the output dict (or raises ``AwsError``). It may be ``async``. Adding an operation is
adding a method; the dispatcher finds it by name.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from cumulo.protocol.errors import AwsError, ValidationError
from cumulo.protocol.validate import validate

if TYPE_CHECKING:
    from botocore.model import OperationModel

    from cumulo.platform import Platform

Handler = Callable[["RequestContext", dict[str, Any]], Any | Awaitable[Any]]


def snake_case(operation_name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", operation_name).lower()


@dataclass
class RequestContext:
    request_id: str
    region: str
    account_id: str
    service: str
    operation: str
    access_key: str | None = None
    # scheme://host[:port] the client used to reach us, for URLs we hand back (queue URLs...)
    base_url: str = ""
    # the X-Amzn-Trace-Id header of the request, which SQS and Lambda carry on (AWSTraceHeader)
    trace_header: str | None = None

    @classmethod
    def internal(cls, platform: Platform, service: str, operation: str, account: str,
                 region: str) -> RequestContext:
        """The context of a call one part of the platform makes to a service's operation."""
        return cls(request_id=str(uuid.uuid4()), region=region, account_id=account, service=service,
                   operation=operation, base_url=platform.settings.endpoint_url)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"


class Provider:
    """Base class of every service provider."""

    service: ClassVar[str] = ""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._handlers: dict[str, Handler | None] = {}

    async def start(self) -> None:
        """Start background work (pollers, dispatchers). Called once the store is open."""

    async def stop(self) -> None:
        """Stop background work; called before the store closes."""

    def handler(self, operation_name: str) -> Handler | None:
        if operation_name not in self._handlers:
            method = getattr(self, snake_case(operation_name), None)
            self._handlers[operation_name] = method if callable(method) else None
        return self._handlers[operation_name]

    def implemented_operations(self) -> list[str]:
        model = self.platform.catalog.model(self.service)
        return [name for name in model.operation_names if self.handler(name) is not None]

    @staticmethod
    async def call(handler: Handler, context: RequestContext, params: dict[str, Any]) -> Any:
        result = handler(context, params)
        if inspect.isawaitable(result):
            result = await result
        return result


async def run_operation(provider: Provider, operation: OperationModel, context: RequestContext,
                        params: dict[str, Any], protocol: str = "json") -> Any:
    """Run one operation on parsed input as AWS's front end would: check the input against the
    model (unless the provider words its own input errors, as SQS does), then the provider's
    handler. Errors are ``AwsError``s coded for ``protocol``'s family, or the provider's own
    validation code. Used by the gateway and by every in-process caller (workflow tasks, HTTP API
    service integrations), so they all see the same answers."""
    if getattr(provider, "validate_input", True):
        problems = validate(operation.input_shape, params)
        if problems:
            error = ValidationError(problems)
            error.code = getattr(provider, "validation_error_code", None) or (
                "ValidationError" if protocol == "query" else "ValidationException")
            raise error
    handler = provider.handler(operation.name)
    if handler is None:
        raise AwsError("NotImplemented" if protocol == "query" else "NotImplementedException",
                       f"{operation.name} is not implemented by Cumulo yet", status=501)
    return await provider.call(handler, context, params)


