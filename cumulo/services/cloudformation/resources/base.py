"""What a resource handler is, and how it reaches Cumulo's services.

A handler turns one CloudFormation resource type into API calls on Cumulo's own providers,
in process: ``create`` returns the physical id (what ``Ref`` gives) and the attributes
(what ``Fn::GetAtt`` reads); ``update`` changes a resource in place or says it must be
replaced; ``delete`` removes it. Calls go through ``ResourceContext.call``, which validates
the parameters against the service model exactly as the HTTP API would, after converting
template scalars to the model's types as CloudFormation does (``coercion``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from cumulo.protocol.errors import AwsError, ValidationError
from cumulo.services.api_calls import ServiceUnavailable, call_api
from cumulo.services.cloudformation.coercion import CoercionError, coerce

if TYPE_CHECKING:
    from cumulo.platform import Platform


class ResourceFailure(Exception):
    """A resource could not be created, updated or deleted; the message is the event's reason.

    ``physical_id``: a failed create that still names something to delete (a custom resource's
    FAILED response with a PhysicalResourceId); the rollback or the stack's deletion deletes it."""

    def __init__(self, message: str, physical_id: str = "") -> None:
        super().__init__(message)
        self.physical_id = physical_id


@dataclass
class Deployed:
    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    # The attribute values are secrets (a custom resource's NoEcho): masked wherever the stack shows them.
    no_echo: bool = False


@dataclass
class ResourceContext:
    platform: Platform
    account: str
    region: str
    stack_name: str
    stack_id: str
    logical_id: str = ""

    async def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one API operation of a Cumulo service as the gateway would; AWS errors become
        ResourceFailure."""
        clean = {k: v for k, v in params.items() if v is not None}
        try:
            clean = coerce(self.platform.catalog.model(service).operation_model(operation).input_shape, clean)
            return await call_api(self.platform, service, operation, clean, account=self.account,
                                  region=self.region) or {}
        except CoercionError as error:
            raise ResourceFailure(f"Properties validation failed for resource {self.logical_id} with message: "
                                  f"{error}") from error
        except ServiceUnavailable as error:
            raise ResourceFailure(f"The {service} service is not available in this Cumulo build") from error
        except ValidationError as error:
            raise ResourceFailure(error.message) from error
        except AwsError as error:
            if error.status == 501:
                raise ResourceFailure(f"{service} {operation} is not implemented by Cumulo yet") from error
            raise ResourceFailure(f"{error.message} (Service: {service}, Status Code: "
                                  f"{error.status or 400}, Error Code: {error.code})") from error

    def physical_name(self, max_length: int = 64, lowercase: bool = False) -> str:
        """A generated name as CloudFormation makes them: stack-LogicalId-RANDOM, within the limit."""
        suffix = uuid.uuid4().hex[:12].upper()
        base = f"{self.stack_name}-{self.logical_id}"
        name = f"{base[:max_length - len(suffix) - 1]}-{suffix}"
        return name.lower() if lowercase else name


class ResourceHandler:
    """One CloudFormation resource type."""

    type: ClassVar[str] = ""
    # Properties whose change needs a new physical resource (CloudFormation's "Replacement").
    replace_on: ClassVar[frozenset[str]] = frozenset()
    # The template properties the handler implements; any other fails the deploy up front.
    properties: ClassVar[frozenset[str]] = frozenset()
    # Properties accepted and knowingly not applied, because they have nothing to act on in a local
    # platform (encryption at rest, for instance). Documented in the README's CloudFormation section.
    ignored: ClassVar[frozenset[str]] = frozenset()
    # Every property is passed on unchecked (custom resources: the provider defines them).
    open_properties: ClassVar[bool] = False

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        raise NotImplementedError

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        """Change in place; the default replaces (create new, the engine deletes the old)."""
        return await self.create(ctx, new)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        raise NotImplementedError

    def needs_replacement(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        return any(old.get(name) != new.get(name) for name in self.replace_on)

    def attribute(self, deployed: Deployed, name: str) -> Any:
        """``Fn::GetAtt`` of this resource (nested names like ``Endpoint.Address`` included)."""
        if name in deployed.attributes:
            return deployed.attributes[name]
        raise ResourceFailure(f"Template error: resource {self.type} does not support attribute {name}")


def tags_map(tags: Any) -> dict[str, str]:
    """CloudFormation tags ([{Key, Value}] or a map) as a plain map."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {t["Key"]: str(t["Value"]) for t in tags or []}


def as_int(value: Any) -> Any:
    """An integer property as an int; a value that is not one is left for ``ResourceContext.call``'s
    type check to report as CloudFormation words it."""
    if value is None or (isinstance(value, float) and not value.is_integer()):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def as_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    return str(value).lower() == "true"
