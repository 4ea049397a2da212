"""Where API Gateway (REST API, v1) resources live in the store.

REST API ids are random and unique across accounts and regions, so every per-API table is keyed
``restApiId/<id>`` and the data plane finds an API from its invoke URL alone; each API record names
its account and region, and the control plane answers NotFound for an API of another scope.

Tables:

* ``restapi.apis``        ``restApiId`` -> the API (settings, tags);
* ``restapi.resources``   ``restApiId/resourceId`` -> a resource with its methods, each method with
  its integration (and integration responses) and method responses embedded, as ``GetResource``
  with ``embed`` shows them;
* ``restapi.<kind>``      ``restApiId/<id>`` -> authorizers, models (by name), request validators,
  gateway responses (by type), deployments (with the snapshot they deployed), stages (by name);
* ``restapi.apikeys``, ``restapi.usageplans``   ``account:region:<id>``, and
  ``restapi.usageplankeys`` ``account:region:<planId>/<keyId>``;
* ``restapi.domains``     ``account:region/<domainName>`` -> custom domain names, and
  ``restapi.basepaths``   ``account:region:<domainName>/<basePath>`` -> their base path mappings;
* ``restapi.usage``       ``<planId>/<keyId>/<period>`` -> requests counted against a quota;
* ``restapi.tags``        resource ARN -> tags of stages, keys and usage plans.

A record holds the operation's output members under their model names; private fields start with
``_`` and never leave the provider.
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.store.base import Store

APIS = "restapi.apis"
TAGS = "restapi.tags"
USAGE = "restapi.usage"
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
    """One kind of record: its table, id member, id length (0: the caller names it) and its name in errors."""

    table: str
    id_member: str
    id_length: int
    resource_type: str


RESOURCES = Kind("restapi.resources", "id", 10, "Resource")
AUTHORIZERS = Kind("restapi.authorizers", "id", 6, "Authorizer")
MODELS = Kind("restapi.models", "name", 0, "Model")
VALIDATORS = Kind("restapi.validators", "id", 6, "RequestValidator")
GATEWAY_RESPONSES = Kind("restapi.gatewayresponses", "responseType", 0, "GatewayResponse")
DEPLOYMENTS = Kind("restapi.deployments", "id", 6, "Deployment")
STAGES = Kind("restapi.stages", "stageName", 0, "Stage")
API_KINDS = (RESOURCES, AUTHORIZERS, MODELS, VALIDATORS, GATEWAY_RESPONSES, DEPLOYMENTS, STAGES)
API_KEYS = Kind("restapi.apikeys", "id", 10, "API Key")
USAGE_PLANS = Kind("restapi.usageplans", "id", 6, "Usage Plan")
USAGE_PLAN_KEYS = Kind("restapi.usageplankeys", "id", 0, "Usage Plan Key")
DOMAIN_NAMES = Kind("restapi.domains", "domainName", 0, "DomainName")  # owner: account:region
BASE_PATH_MAPPINGS = Kind("restapi.basepaths", "basePath", 0, "BasePathMapping")  # owner: account:region:domain


def not_found(message: str) -> AwsError:
    return AwsError("NotFoundException", message)


def bad_request(message: str) -> AwsError:
    return AwsError("BadRequestException", message)


def conflict(message: str) -> AwsError:
    return AwsError("ConflictException", message)


class RestRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------ APIs
    def api(self, account: str, region: str, api_id: str) -> dict[str, Any]:
        record = self.store.get(APIS, api_id)
        if record is None or record.get("_account") != account or record.get("_region") != region:
            raise not_found("Invalid API identifier specified " f"{account}:{api_id}")
        return record

    def find_api(self, api_id: str) -> dict[str, Any] | None:
        return self.store.get(APIS, api_id)

    def apis(self, account: str, region: str) -> list[dict[str, Any]]:
        return [record for _, record in self.store.scan(APIS)
                if record.get("_account") == account and record.get("_region") == region]

    def save_api(self, record: dict[str, Any]) -> None:
        self.store.put(APIS, record["id"], record)

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

    # ------------------------------------------------------------ records by owner
    def find(self, kind: Kind, owner: str, item_id: str) -> dict[str, Any] | None:
        return self.store.get(kind.table, f"{owner}/{item_id}")

    def items(self, kind: Kind, owner: str) -> list[dict[str, Any]]:
        prefix = owner + "/"
        return [record for key, record in self.store.scan(kind.table, prefix) if "/" not in key[len(prefix):]]

    def put(self, kind: Kind, owner: str, record: dict[str, Any]) -> None:
        self.store.put(kind.table, f"{owner}/{record[kind.id_member]}", record)

    def delete(self, kind: Kind, owner: str, item_id: str) -> bool:
        return self.store.delete(kind.table, f"{owner}/{item_id}")

    def delete_prefix(self, kind: Kind, prefix: str) -> None:
        self.store.delete_prefix(kind.table, prefix)

    def new_item_id(self, kind: Kind, owner: str) -> str:
        while True:
            item_id = new_id(kind.id_length)
            if self.find(kind, owner, item_id) is None:
                return item_id

    # ------------------------------------------------------------ tags
    def tags(self, arn: str) -> dict[str, str]:
        record = self.store.get(TAGS, arn)
        return dict(record["tags"]) if record else {}

    def set_tags(self, arn: str, tags: dict[str, str]) -> None:
        if tags:
            self.store.put(TAGS, arn, {"tags": tags})
        else:
            self.store.delete(TAGS, arn)

    # ------------------------------------------------------------ quota usage
    def used(self, plan_id: str, key_id: str, period: str) -> int:
        record = self.store.get(USAGE, f"{plan_id}/{key_id}/{period}")
        return int(record["count"]) if record else 0

    def set_used(self, plan_id: str, key_id: str, period: str, count: int) -> None:
        self.store.put(USAGE, f"{plan_id}/{key_id}/{period}", {"count": count})
