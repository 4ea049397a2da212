"""Where API Gateway v2 resources live in the store.

API ids are random and unique across accounts and regions, so every table is keyed by the API
id (the data plane finds an API from its invoke URL alone); each API record names its account
and region, and the control plane answers NotFound for an API of another scope.

Tables:

* ``apigw.apis``          ``apiId`` -> the API (its CORS configuration and tags included);
* ``apigw.<kind>``        ``apiId/<id>`` -> routes, integrations, authorizers, models, stages
  (by name), deployments (with the snapshot of the configuration they deployed), route and
  integration responses (``apiId/<parentId>/<id>``);
* ``apigw.domains``       ``account:region:domainName`` -> custom domain names, and
  ``apigw.mappings`` ``account:region:domainName/<mappingId>`` -> their API mappings;
* ``apigw.vpclinks``      ``account:region:vpcLinkId``;
* ``apigw.tags``          resource ARN -> tags of stages, domain names and VPC links.

A record holds the operation's output members under their model names; private fields start
with ``_`` and never leave the provider. Every key is ``<owner><separator><id>``, the owner being
an API id (``apiId`` or ``apiId/<parentId>``), ``account:region`` or ``account:region:domainName``.
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.store.base import Store

APIS = "apigw.apis"
TAGS = "apigw.tags"
_ALPHABET = string.ascii_lowercase + string.digits


def new_id(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def now() -> float:
    return round(time.time(), 3)


def public(record: dict[str, Any] | None) -> dict[str, Any]:
    """A record as the API returns it: private fields dropped."""
    if record is None:
        return {}
    return {k: v for k, v in record.items() if not k.startswith("_")}


@dataclass(frozen=True)
class Kind:
    """One kind of resource in the store: its table, id member and id length (0: the caller names
    it), its name in errors, and what separates its owner from its id in a key."""

    table: str
    id_member: str
    id_length: int
    resource_type: str
    separator: str = "/"


ROUTES = Kind("apigw.routes", "RouteId", 7, "Route")
INTEGRATIONS = Kind("apigw.integrations", "IntegrationId", 7, "Integration")
AUTHORIZERS = Kind("apigw.authorizers", "AuthorizerId", 6, "Authorizer")
MODELS = Kind("apigw.models", "ModelId", 6, "Model")
STAGES = Kind("apigw.stages", "StageName", 0, "Stage")
DEPLOYMENTS = Kind("apigw.deployments", "DeploymentId", 6, "Deployment")
ROUTE_RESPONSES = Kind("apigw.routeresponses", "RouteResponseId", 6, "RouteResponse")
INTEGRATION_RESPONSES = Kind("apigw.integrationresponses", "IntegrationResponseId", 6, "IntegrationResponse")
API_KINDS = (ROUTES, INTEGRATIONS, AUTHORIZERS, MODELS, STAGES, DEPLOYMENTS, ROUTE_RESPONSES,
             INTEGRATION_RESPONSES)
DOMAIN_NAMES = Kind("apigw.domains", "DomainName", 0, "DomainName", separator=":")  # owner: account:region
API_MAPPINGS = Kind("apigw.mappings", "ApiMappingId", 6, "ApiMapping")  # owner: account:region:domainName
VPC_LINKS = Kind("apigw.vpclinks", "VpcLinkId", 6, "VpcLink", separator=":")  # owner: account:region
# Kinds whose records belong to a record of another kind, kept under "<the owner's key>/<id>".
CHILDREN = {ROUTES: ROUTE_RESPONSES, INTEGRATIONS: INTEGRATION_RESPONSES, DOMAIN_NAMES: API_MAPPINGS}


def not_found(resource_type: str, identifier: str) -> AwsError:
    return AwsError("NotFoundException", f"Invalid {resource_type} identifier specified {identifier}",
                    fields={"resourceType": resource_type})


def bad_request(message: str) -> AwsError:
    return AwsError("BadRequestException", message)


def conflict(message: str) -> AwsError:
    return AwsError("ConflictException", message)


class Repository:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------ APIs
    def api(self, account: str, region: str, api_id: str) -> dict[str, Any]:
        record = self.store.get(APIS, api_id)
        if record is None or record.get("_account") != account or record.get("_region") != region:
            raise not_found("API", f"{account}:{api_id}")
        return record

    def find_api(self, api_id: str) -> dict[str, Any] | None:
        return self.store.get(APIS, api_id)

    def apis(self, account: str, region: str) -> list[dict[str, Any]]:
        return [record for _, record in self.store.scan(APIS)
                if record.get("_account") == account and record.get("_region") == region]

    def save_api(self, record: dict[str, Any]) -> None:
        self.store.put(APIS, record["ApiId"], record)

    def new_api_id(self) -> str:
        while True:
            api_id = new_id(10)
            if self.store.get(APIS, api_id) is None:
                return api_id

    def delete_api(self, api_id: str) -> None:
        with self.store.transaction():
            for kind in API_KINDS:
                self.store.delete_prefix(kind.table, api_id + "/")
            self.store.delete(APIS, api_id)

    # ------------------------------------------------------------ everything else, by owner
    def get(self, kind: Kind, owner: str, item_id: str, parent: str | None = None) -> dict[str, Any]:
        record = self.find(kind, owner, item_id, parent)
        if record is None:
            raise not_found(kind.resource_type, item_id)
        return record

    def find(self, kind: Kind, owner: str, item_id: str, parent: str | None = None) -> dict[str, Any] | None:
        return self.store.get(kind.table, self._prefix(kind, owner, parent) + item_id)

    def items(self, kind: Kind, owner: str, parent: str | None = None) -> list[dict[str, Any]]:
        prefix = self._prefix(kind, owner, parent)
        return [record for key, record in self.store.scan(kind.table, prefix)
                if kind.separator not in key[len(prefix):]]

    def put(self, kind: Kind, owner: str, record: dict[str, Any], parent: str | None = None) -> None:
        self.store.put(kind.table, self._prefix(kind, owner, parent) + record[kind.id_member], record)

    def delete(self, kind: Kind, owner: str, item_id: str, parent: str | None = None) -> bool:
        """Delete a record and what belongs to it (route responses of a route, and so on)."""
        key = self._prefix(kind, owner, parent) + item_id
        child = CHILDREN.get(kind)
        if child is not None:
            self.store.delete_prefix(child.table, key + "/")
        return self.store.delete(kind.table, key)

    def new_item_id(self, kind: Kind, owner: str, parent: str | None = None) -> str:
        while True:
            item_id = new_id(kind.id_length)
            if self.find(kind, owner, item_id, parent) is None:
                return item_id

    @staticmethod
    def _prefix(kind: Kind, owner: str, parent: str | None) -> str:
        return f"{owner}/{parent}{kind.separator}" if parent else f"{owner}{kind.separator}"

    # ------------------------------------------------------------ tags of other resources
    def tags(self, arn: str) -> dict[str, str]:
        record = self.store.get(TAGS, arn)
        return dict(record["tags"]) if record else {}

    def set_tags(self, arn: str, tags: dict[str, str]) -> None:
        if tags:
            self.store.put(TAGS, arn, {"tags": tags})
        else:
            self.store.delete(TAGS, arn)
