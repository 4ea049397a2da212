"""How a kind of API Gateway v2 resource is described to the generic operations
(``cumulo.services.apigatewayv2.crud``); the table itself is ``cumulo.services.apigatewayv2.kinds``.

Order of a Create: ``scope`` finds the owner, ``before_create`` (checks on the request), the
parent must exist, the ``fields`` set in the request are copied, the record gets its id (new, or
the caller's for kinds the caller names), ``defaults``, ``prepare``, save, ``after_create``. An
Update copies the ``fields`` set onto the stored record, then ``on_update`` and ``prepare``. A
Delete runs ``before_delete`` (e.g. "still in use") and ``after_delete``. ``effect`` says what a
change does beyond the store.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cumulo.services.apigatewayv2.controlplane import ControlPlane
from cumulo.services.apigatewayv2.repository import DOMAIN_NAMES, Kind, not_found
from cumulo.services.base import RequestContext

Record = dict[str, Any]


@dataclass(frozen=True)
class Owner:
    """What the records of one request belong to: an API, the caller's account and region, or a
    custom domain name. ``key`` is the owner part of their store keys."""

    context: RequestContext
    key: str
    record: Record | None = None  # the API or the domain name; None for the account

    @property
    def api(self) -> Record:
        assert self.record is not None, "an API sub-resource's owner is its API"
        return self.record


# (provider, owner, record, request) -> None; raises an AwsError to refuse. ``record`` is the request for before_create.
Hook = Callable[[ControlPlane, Owner, Record, Record], None]
View = Callable[[ControlPlane, Owner, Record], Record]
Scope = Callable[[ControlPlane, RequestContext, Record], Owner]


class Effect(enum.Enum):
    """What a change of the kind does beyond the store."""

    NONE = "none"  # nothing the data plane reads
    CONFIGURATION = "configuration"  # part of the API's configuration: reaches callers through deployments
    LIVE = "live"  # read by the data plane from the API's stages directly: tell it at once
    DOMAINS = "domains"  # custom domain names and their mappings: tell the data plane at once


def api_scope(plane: ControlPlane, context: RequestContext, params: Record) -> Owner:
    api = plane.api_of(context, params)
    return Owner(context, api["ApiId"], api)


def account_key(context: RequestContext) -> str:
    return f"{context.account_id}:{context.region}"


def account_scope(plane: ControlPlane, context: RequestContext, params: Record) -> Owner:
    return Owner(context, account_key(context))


def domain_record(plane: ControlPlane, context: RequestContext, name: str) -> Record:
    """The caller's custom domain name (names are case-insensitive); NotFound as the caller spelled it."""
    record = plane.repo.find(DOMAIN_NAMES, account_key(context), name.lower())
    if record is None:
        raise not_found("DomainName", name)
    return record


def domain_scope(plane: ControlPlane, context: RequestContext, params: Record) -> Owner:
    domain = domain_record(plane, context, params["DomainName"])
    return Owner(context, f"{account_key(context)}:{domain['DomainName']}", domain)


ALL_OPERATIONS = frozenset({"Create", "Get", "List", "Update", "Delete"})


@dataclass(frozen=True)
class ResourceKind:
    store: Kind  # table, id member, id length, name in errors (and in operation names)
    list_token: str  # the kind of NextToken its Get*s operation hands out
    fields: tuple[str, ...] = ()  # request members Create and Update copy onto the record
    scope: Scope = api_scope
    parent: Kind | None = None  # the sub-resource this one belongs to (a route response's route)
    effect: Effect = Effect.NONE
    generic: frozenset[str] = ALL_OPERATIONS  # operations the table serves (others are the provider's own)
    id_of: Callable[[Record], str] | None = None  # the stored id the request names, when not its id member as is
    before_create: Hook | None = None
    defaults: Hook | None = None
    prepare: Hook | None = None
    after_create: Hook | None = None
    on_update: Hook | None = None
    before_delete: Hook | None = None
    after_delete: Hook | None = None
    view: View | None = None  # the output shape when it is more than the record's public members

    @property
    def name(self) -> str:
        return self.store.resource_type

    def requested_id(self, params: Record) -> str:
        return self.id_of(params) if self.id_of else params[self.store.id_member]
