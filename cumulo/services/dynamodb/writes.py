"""PutItem, UpdateItem, DeleteItem and GetItem, and the write plans transactions reuse.

A write is planned first (input checked, expressions parsed: nothing read yet), then run inside
a store transaction: read the old item, check the condition, compute the new item, write it with
its index entries and stream record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cumulo.services.dynamodb import legacy
from cumulo.services.dynamodb.errors import conditional_failed, validation
from cumulo.services.dynamodb.expressions.evaluation import evaluate
from cumulo.services.dynamodb.expressions.parser import Context, UpdateActions, parse_update
from cumulo.services.dynamodb.expressions.projection import project
from cumulo.services.dynamodb.expressions.update import apply_update, check_actions, updated_paths
from cumulo.services.dynamodb.requests import (
    capacity,
    check_return_values,
    condition_of,
    context_of,
    projection_of,
    read_units,
    write_units,
)
from cumulo.services.dynamodb.storage import ItemStore
from cumulo.services.dynamodb.tables import Table, TableRepository
from cumulo.services.dynamodb.values import Item, encoded, item_size, normalize_item

MAX_ITEM_BYTES = 400 * 1024


@dataclass
class WritePlan:
    """One checked write, ready to run against the current item."""

    table: Table
    key: Item
    condition: Any | None
    compute: Callable[[Item | None], Item | None]  # old item -> new item (None: delete)
    return_values: str = "NONE"
    on_failure: str = "NONE"  # ReturnValuesOnConditionCheckFailure
    actions: UpdateActions | None = None


def check_new_item(table: Table, item: Item) -> None:
    if item_size(item) > MAX_ITEM_BYTES:
        raise validation("Item size has exceeded the maximum allowed size")
    for index in table.indexes.values():
        index.schema.check_index_values(item, index.name)


class ItemWrites:
    def __init__(self, tables: TableRepository, items: ItemStore) -> None:
        self.tables = tables
        self.items = items

    def table(self, context: Any, name: str) -> Table:
        return self.tables.get(context.account_id, context.region, name)

    # ---------------------------------------------------------------- plans
    def plan_put(self, context: Any, params: dict[str, Any], transactional: bool = False) -> WritePlan:
        table = self.table(context, params["TableName"])
        item = normalize_item(params["Item"])
        table.schema.check_item(item)
        check_new_item(table, item)
        condition = self._condition(params, ("ConditionExpression",))
        if not transactional:
            check_return_values(params, ("NONE", "ALL_OLD"))
        return WritePlan(table, table.schema.key_of(item), condition, lambda old: item,
                         params.get("ReturnValues", "NONE"), params.get("ReturnValuesOnConditionCheckFailure", "NONE"))

    def plan_delete(self, context: Any, params: dict[str, Any], transactional: bool = False) -> WritePlan:
        table = self.table(context, params["TableName"])
        key = normalize_item(params["Key"])
        table.schema.check_key(key)
        condition = self._condition(params, ("ConditionExpression",))
        if not transactional:
            check_return_values(params, ("NONE", "ALL_OLD"))
        return WritePlan(table, key, condition, lambda old: None, params.get("ReturnValues", "NONE"),
                         params.get("ReturnValuesOnConditionCheckFailure", "NONE"))

    def plan_condition_check(self, context: Any, params: dict[str, Any]) -> WritePlan:
        table = self.table(context, params["TableName"])
        key = normalize_item(params["Key"])
        table.schema.check_key(key)
        condition = self._condition(params, ("ConditionExpression",))
        return WritePlan(table, key, condition, lambda old: old, "NONE",
                         params.get("ReturnValuesOnConditionCheckFailure", "NONE"))

    def plan_update(self, context: Any, params: dict[str, Any], transactional: bool = False) -> WritePlan:
        table = self.table(context, params["TableName"])
        key = normalize_item(params["Key"])
        table.schema.check_key(key)
        expression_context = context_of(params, ("UpdateExpression", "ConditionExpression"))
        if params.get("UpdateExpression") is not None:
            if params.get("AttributeUpdates"):
                raise validation("Can not use both expression and non-expression parameters in the same request: "
                                 "Non-expression parameters: {AttributeUpdates} Expression parameters: "
                                 "{UpdateExpression}")
            actions = parse_update(params["UpdateExpression"], expression_context)
        else:
            actions = legacy.attribute_updates(params.get("AttributeUpdates") or {})
        condition = condition_of(params, expression_context) or legacy.conditions(
            params.get("Expected"), params.get("ConditionalOperator"))
        expression_context.check_all_used()
        check_actions(actions, table.schema.names)
        if not transactional:
            check_return_values(params, ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"))

        def compute(old: Item | None) -> Item:
            new = apply_update(old if old is not None else dict(key), actions)
            check_new_item(table, new)
            return new

        return WritePlan(table, key, condition, compute, params.get("ReturnValues", "NONE"),
                         params.get("ReturnValuesOnConditionCheckFailure", "NONE"), actions)

    def _condition(self, params: dict[str, Any], expressions: tuple[str, ...]) -> Any | None:
        if params.get("ConditionExpression") is not None and params.get("Expected"):
            raise validation("Can not use both expression and non-expression parameters in the same request: "
                             "Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}")
        expression_context: Context = context_of(params, expressions)
        condition = condition_of(params, expression_context)
        expression_context.check_all_used()
        return condition if condition is not None else legacy.conditions(params.get("Expected"),
                                                                          params.get("ConditionalOperator"))

    # ------------------------------------------------------------------ run
    def run(self, plan: WritePlan) -> tuple[Item | None, Item | None]:
        """Run a plan (inside the caller's transaction): (old item, new item)."""
        old = self.items.get(plan.table, plan.key)
        if plan.condition is not None and not evaluate(old or {}, plan.condition):
            raise conditional_failed(old if plan.on_failure == "ALL_OLD" and old is not None else None)
        new = plan.compute(old)
        if new is not old:
            self.items.write(plan.table, plan.key, old, new)
        return old, new

    def execute(self, plan: WritePlan, params: dict[str, Any]) -> dict[str, Any]:
        with self.items.store.transaction():
            old, new = self.run(plan)
        answer: dict[str, Any] = {}
        attributes = returned(plan, old, new)
        if attributes is not None:
            answer["Attributes"] = attributes
        consumed = capacity(params, plan.table, write_units(old, new))
        if consumed:
            answer["ConsumedCapacity"] = consumed
        if params.get("ReturnItemCollectionMetrics") == "SIZE" and any(
                not index.global_ for index in plan.table.indexes.values()):
            hash_name = plan.table.schema.hash_name
            answer["ItemCollectionMetrics"] = {"ItemCollectionKey": {hash_name: plan.key[hash_name]},
                                               "SizeEstimateRangeGB": [0.0, 1.0]}
        return answer

    # ----------------------------------------------------------- operations
    def put_item(self, context: Any, params: dict[str, Any]) -> dict[str, Any]:
        return self.execute(self.plan_put(context, params), params)

    def delete_item(self, context: Any, params: dict[str, Any]) -> dict[str, Any]:
        return self.execute(self.plan_delete(context, params), params)

    def update_item(self, context: Any, params: dict[str, Any]) -> dict[str, Any]:
        return self.execute(self.plan_update(context, params), params)

    def get_item(self, context: Any, params: dict[str, Any]) -> dict[str, Any]:
        table = self.table(context, params["TableName"])
        key = normalize_item(params["Key"])
        table.schema.check_key(key)
        expression_context = context_of(params, ("ProjectionExpression",))
        paths = projection_of(params, expression_context)
        expression_context.check_all_used()
        item = self.items.get(table, key)
        answer: dict[str, Any] = {}
        if item is not None:
            answer["Item"] = encoded(project(item, paths) if paths else item)
        consumed = capacity(params, table, read_units(item_size(item) if item else 0,
                                                      bool(params.get("ConsistentRead"))))
        if consumed:
            answer["ConsumedCapacity"] = consumed
        return answer


def returned(plan: WritePlan, old: Item | None, new: Item | None) -> Item | None:
    mode = plan.return_values
    if mode == "ALL_OLD":
        return old or None
    if mode == "ALL_NEW":
        return new
    if mode in ("UPDATED_OLD", "UPDATED_NEW") and plan.actions is not None:
        source = old if mode == "UPDATED_OLD" else new
        if not source:
            return None
        return project(source, updated_paths(plan.actions)) or None
    return None
