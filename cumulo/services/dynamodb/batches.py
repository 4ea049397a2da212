"""BatchGetItem, BatchWriteItem, TransactGetItems and TransactWriteItems.

Batch writes are checked in full before anything is written, then written in one store
transaction (so UnprocessedItems is always empty). Transactions check every condition, answer
the cancellation reasons in request order, and remember a ClientRequestToken for 10 minutes."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.dynamodb.errors import table_not_found, validation
from cumulo.services.dynamodb.expressions.projection import project
from cumulo.services.dynamodb.requests import context_of, projection_of
from cumulo.services.dynamodb.tables import Table
from cumulo.services.dynamodb.values import Item, normalize_item
from cumulo.services.dynamodb.writes import ItemWrites, WritePlan

TOKENS = "dynamodb.tokens"
TOKEN_TTL_S = 600


def _identity(table: Table, key: Item) -> str:
    return f"{table.id}|{table.item_key(key)}"


class Batches:
    def __init__(self, writes: ItemWrites) -> None:
        self.writes = writes
        self.items = writes.items
        self.store = writes.items.store

    def _table(self, context: Any, name: str) -> Table:
        table = self.writes.tables.find(context.account_id, context.region, name)
        if table is None:
            raise table_not_found()
        return table

    # --------------------------------------------------------------- batches
    def batch_get_item(self, context: Any, params: dict[str, Any]) -> dict[str, Any]:
        requests = params["RequestItems"]
        if sum(len(r["Keys"]) for r in requests.values()) > 100:
            raise validation("Too many items requested for the BatchGetItem call")
        responses: dict[str, list[Item]] = {}
        for name, request in requests.items():
            table = self._table(context, name)
            expression_context = context_of(request, ("ProjectionExpression",))
            paths = projection_of(request, expression_context)
            expression_context.check_all_used()
            seen: set[str] = set()
            found = []
            for raw in request["Keys"]:
                key = normalize_item(raw)
                table.schema.check_key(key)
                identity = _identity(table, key)
                if identity in seen:
                    raise validation("Provided list of item keys contains duplicates")
                seen.add(identity)
                item = self.items.get(table, key)
                if item is not None:
                    found.append(project(item, paths) if paths else item)
            responses[name] = found
        return {"Responses": responses, "UnprocessedKeys": {}}

    def batch_write_item(self, context: Any, params: dict[str, Any]) -> dict[str, Any]:
        requests = params["RequestItems"]
        if sum(len(r) for r in requests.values()) > 25:
            raise validation("Too many items requested for the BatchWriteItem call")
        plans: list[WritePlan] = []
        seen: set[str] = set()
        for name, writes in requests.items():
            for write in writes:
                if ("PutRequest" in write) == ("DeleteRequest" in write):
                    raise validation("Supplied AttributeValue has more than one datatypes set, must contain exactly "
                                     "one of the supported datatypes")
                if "PutRequest" in write:
                    plan = self.writes.plan_put(context, {"TableName": name, "Item": write["PutRequest"]["Item"]})
                else:
                    plan = self.writes.plan_delete(context, {"TableName": name, "Key": write["DeleteRequest"]["Key"]})
                identity = _identity(plan.table, plan.key)
                if identity in seen:
                    raise validation("Provided list of item keys contains duplicates")
                seen.add(identity)
                plans.append(plan)
        with self.store.transaction():
            for plan in plans:
                self.writes.run(plan)
        return {"UnprocessedItems": {}}

    # ---------------------------------------------------------- transactions
    def transact_get_items(self, context: Any, params: dict[str, Any]) -> dict[str, Any]:
        responses = []
        gets = []
        for entry in params["TransactItems"]:
            request = entry["Get"]
            table = self._table(context, request["TableName"])
            key = normalize_item(request["Key"])
            table.schema.check_key(key)
            expression_context = context_of(request, ("ProjectionExpression",))
            paths = projection_of(request, expression_context)
            expression_context.check_all_used()
            gets.append((table, key, paths))
        with self.store.transaction():
            for table, key, paths in gets:
                item = self.items.get(table, key)
                responses.append({"Item": project(item, paths) if paths else item} if item is not None else {})
        return {"Responses": responses}

    def transact_write_items(self, context: Any, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("ClientRequestToken")
        fingerprint = hashlib.sha256(json.dumps(params["TransactItems"], sort_keys=True, default=repr)
                                     .encode()).hexdigest()
        if token is not None:
            seen = self.store.get(TOKENS, f"{context.account_id}:{token}")
            if seen is not None and seen["at"] > time.time() - TOKEN_TTL_S:
                if seen["fingerprint"] != fingerprint:
                    raise AwsError("IdempotentParameterMismatchException", "The request uses the same client token "
                                   "as a previous, but non-identical request.")
                return {}
        plans: list[WritePlan] = []
        identities: set[str] = set()
        for entry in params["TransactItems"]:
            if len(entry) != 1:
                raise validation("TransactItems can only contain one of Check, Put, Update or Delete")
            (kind, request), = entry.items()
            plan = {"Put": self.writes.plan_put, "Delete": self.writes.plan_delete,
                    "Update": self.writes.plan_update,
                    "ConditionCheck": lambda c, p, transactional=True: self.writes.plan_condition_check(c, p)}[kind](
                context, request, transactional=True)
            identity = _identity(plan.table, plan.key)
            if identity in identities:
                raise validation("Transaction request cannot include multiple operations on one item")
            identities.add(identity)
            plans.append(plan)
        with self.store.transaction():
            reasons = [self._attempt(plan) for plan in plans]
            if any(reason["Code"] != "None" for reason in reasons):
                codes = ", ".join(reason["Code"] for reason in reasons)
                raise AwsError("TransactionCanceledException", "Transaction cancelled, please refer cancellation "
                               f"reasons for specific reasons [{codes}]",
                               fields={"CancellationReasons": reasons})
            if token is not None:
                self.store.put(TOKENS, f"{context.account_id}:{token}", {"fingerprint": fingerprint,
                                                                         "at": time.time()})
        return {}

    def _attempt(self, plan: WritePlan) -> dict[str, Any]:
        try:
            self.writes.run(plan)
        except AwsError as error:
            if error.code == "ConditionalCheckFailedException":
                reason: dict[str, Any] = {"Code": "ConditionalCheckFailed", "Message": error.message}
                if "Item" in error.fields:
                    reason["Item"] = error.fields["Item"]
                return reason
            if error.code == "ValidationException":
                return {"Code": "ValidationError", "Message": error.message}
            raise
        return {"Code": "None"}
