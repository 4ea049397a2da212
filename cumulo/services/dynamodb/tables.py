"""Where DynamoDB tables live in the store, and the in-memory view of one table.

Store tables (keys scoped ``account:region:``):

* ``dynamodb.tables``  ``name`` -> the table's description (as DescribeTable answers) and its
  internal id, which prefixes its items, index entries and stream records;
* ``dynamodb.items``   ``<table id>/<partition>/<sort>/`` -> the item (see ``keys.py``);
* ``dynamodb.index``   ``<table id>/<index>/<partition>/<sort>/<table partition>/<table sort>`` -> the item;
* ``dynamodb.ttl``     ``<table id>/<expiry, 12 digits>/<item store key>`` -> {} (what the TTL sweeper reads);
* ``dynamodb.backups`` ``backup arn`` -> the backup's description and its items.

Stream records are in ``streams.py``.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any

from cumulo.services.dynamodb.errors import table_not_found
from cumulo.services.dynamodb.keys import KeySchema
from cumulo.store.base import Store

TABLES, ITEMS, INDEX, TTL, BACKUPS = ("dynamodb.tables", "dynamodb.items", "dynamodb.index", "dynamodb.ttl",
                                      "dynamodb.backups")


@dataclass
class Index:
    name: str
    schema: KeySchema
    projection: dict[str, Any]
    global_: bool

    def project(self, item: dict[str, Any], table_keys: tuple[str, ...]) -> dict[str, Any]:
        kind = self.projection.get("ProjectionType", "ALL")
        if kind == "ALL":
            return item
        keep = set(table_keys) | set(self.schema.names)
        if kind == "INCLUDE":
            keep |= set(self.projection.get("NonKeyAttributes", []))
        return {name: value for name, value in item.items() if name in keep}


@dataclass
class Table:
    account: str
    region: str
    name: str
    record: dict[str, Any]
    indexes: dict[str, Index] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.account}:{self.region}:{self.name}"

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def description(self) -> dict[str, Any]:
        return self.record["description"]

    @functools.cached_property
    def schema(self) -> KeySchema:
        """The primary key (it never changes for a table)."""
        return schema_of(self.description["KeySchema"], self.description["AttributeDefinitions"])

    @property
    def arn(self) -> str:
        return self.description["TableArn"]

    @property
    def stream(self) -> dict[str, Any] | None:
        """The stream specification when a stream is enabled."""
        spec = self.description.get("StreamSpecification")
        return spec if spec and spec.get("StreamEnabled") else None

    @property
    def ttl_attribute(self) -> str | None:
        ttl = self.record.get("ttl") or {}
        return ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None

    def item_key(self, item: dict[str, Any]) -> str:
        schema = self.schema
        return f"{self.id}/{schema.partition(item)}/{schema.sort(item)}/"


def schema_of(key_schema: list[dict], definitions: list[dict]) -> KeySchema:
    types = {d["AttributeName"]: d["AttributeType"] for d in definitions}
    return KeySchema.from_description(key_schema, types)


def load_indexes(description: dict[str, Any]) -> dict[str, Index]:
    indexes: dict[str, Index] = {}
    definitions = description["AttributeDefinitions"]
    for source, is_global in (("GlobalSecondaryIndexes", True), ("LocalSecondaryIndexes", False)):
        for index in description.get(source, []):
            if index.get("IndexStatus", "ACTIVE") == "DELETING":
                continue
            indexes[index["IndexName"]] = Index(index["IndexName"], schema_of(index["KeySchema"], definitions),
                                                index["Projection"], is_global)
    return indexes


class TableRepository:
    """Table records, with a cache of parsed tables checked against the store's generation."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, Table] = {}
        self._all: list[Table] | None = None
        self._generation = -1

    def _check_generation(self) -> None:
        generation = self.store.generation(TABLES)
        if generation != self._generation:
            self._cache.clear()
            self._all = None
            self._generation = generation

    def find(self, account: str, region: str, name: str) -> Table | None:
        self._check_generation()
        key = f"{account}:{region}:{name}"
        table = self._cache.get(key)
        if table is None:
            record = self.store.get(TABLES, key)
            if record is None:
                return None
            table = Table(account, region, name, record, load_indexes(record["description"]))
            self._cache[key] = table
        return table

    def get(self, account: str, region: str, name: str, detailed: bool = False) -> Table:
        table = self.find(account, region, name)
        if table is None:
            raise table_not_found(name if detailed else None)
        return table

    def save(self, table: Table) -> None:
        self.store.put(TABLES, table.key, table.record)

    def all(self, account: str | None = None, region: str | None = None) -> list[Table]:
        """Every table (of an account and region), read once per change of the tables."""
        self._check_generation()
        if self._all is None:
            self._all = []
            for key, record in self.store.scan(TABLES):
                account_id, region_name, name = key.split(":", 2)
                self._all.append(Table(account_id, region_name, name, record, load_indexes(record["description"])))
        return [t for t in self._all if account is None or (t.account, t.region) == (account, region)]


def now() -> float:
    return round(time.time(), 3)
