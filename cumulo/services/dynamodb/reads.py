"""Query and Scan: the key range a Query needs (never the whole table), filters, projections,
Select, Limit, 1 MB pages, ExclusiveStartKey/LastEvaluatedKey and parallel scan segments."""

from __future__ import annotations

import zlib
from typing import Any

from cumulo.services.dynamodb import legacy
from cumulo.services.dynamodb.errors import validation
from cumulo.services.dynamodb.expressions.evaluation import evaluate, paths_in
from cumulo.services.dynamodb.expressions.parser import Between, Call, Compare, Logical, PathRef, Value
from cumulo.services.dynamodb.expressions.projection import project
from cumulo.services.dynamodb.keys import KeySchema, encode_key_value
from cumulo.services.dynamodb.requests import capacity, condition_of, context_of, projection_of, read_units
from cumulo.services.dynamodb.storage import HIGH, ItemStore, index_key
from cumulo.services.dynamodb.tables import INDEX, ITEMS, Index, Table, TableRepository
from cumulo.services.dynamodb.values import Item, encoded, item_size, normalize_item, type_of

PAGE_BYTES = 1024 * 1024


def _key_condition(tree: Any, schema: KeySchema) -> tuple[Any, Any | None]:
    """Split a KeyConditionExpression into the partition equality and the sort-key condition."""
    parts: list[Any] = []

    def flatten(node: Any) -> None:
        if isinstance(node, Logical) and node.op == "AND":
            flatten(node.left)
            flatten(node.right)
        elif isinstance(node, Logical):
            raise validation("Invalid operator used in KeyConditionExpression: OR")
        else:
            parts.append(node)

    flatten(tree)
    if len(parts) > 2:
        raise validation("Conditions can be of length 1 or 2 only")
    hash_part = sort_part = None
    for part in parts:
        if isinstance(part, Compare | Between) or (isinstance(part, Call) and part.name == "begins_with"):
            paths = paths_in(part)
            if len(paths) != 1 or len(paths[0]) != 1:
                raise validation("Invalid condition in KeyConditionExpression: Multiple attribute names used in "
                                 "one condition" if len(paths) > 1 else "Query key condition not supported")
            name = paths[0][0]
            if name == schema.hash_name and isinstance(part, Compare) and part.op == "=":
                if hash_part is not None:
                    raise validation("KeyConditionExpressions must only contain one condition per key")
                hash_part = part
            elif name == schema.range_name:
                if isinstance(part, Compare) and part.op == "<>":
                    raise validation("Unsupported operator in KeyConditionExpression: <>")
                if sort_part is not None:
                    raise validation("KeyConditionExpressions must only contain one condition per key")
                sort_part = part
            elif name == schema.hash_name:
                raise validation("Query key condition not supported")
            else:
                raise validation(f"Query condition missed key schema element: {schema.hash_name}"
                                 if hash_part is None and len(parts) == 1 else
                                 "Query condition missed key schema element"
                                 f"{'' if schema.range_name is None else ': ' + schema.range_name}")
        else:
            name = type(part).__name__.upper()
            raise validation(f"Invalid operator used in KeyConditionExpression: {name}")
    if hash_part is None:
        raise validation(f"Query condition missed key schema element: {schema.hash_name}")
    return hash_part, sort_part


def _literal(node: Any, kind: str | None) -> dict[str, Any]:
    if not isinstance(node, Value):
        raise validation("Query key condition not supported")
    if kind is not None and type_of(node.value) != kind:
        raise validation("One or more parameter values were invalid: Condition parameter type does not match "
                         "schema type")
    return node.value


def _sort_bounds(prefix: str, part: Any, schema: KeySchema) -> tuple[str, str]:
    """[low, high) of the store keys whose sort key satisfies the condition, exactly.

    Table and index keys both follow the encoded sort key with ``/``, which sorts below every
    encoding character: ``e/`` is the key of value ``e`` itself, keys of smaller values sort
    below it, keys of larger ones (extensions of ``e`` included) above ``e/`` + HIGH."""
    if part is None:
        return prefix, prefix + HIGH
    kind = schema.range_type
    if isinstance(part, Between):
        low = encode_key_value(_literal(part.low, kind))
        high = encode_key_value(_literal(part.high, kind))
        return prefix + low + "/", prefix + high + "/" + HIGH
    if isinstance(part, Call):
        value = _literal(part.args[1], kind)
        if kind == "N":
            raise validation("Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
                             "operator or function: begins_with, operand type: NUMBER")
        encoded = encode_key_value(value)
        return prefix + encoded, prefix + encoded + HIGH
    value_node = part.right if isinstance(part.left, PathRef) else part.left
    flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
    op = part.op if isinstance(part.left, PathRef) else flipped.get(part.op, part.op)
    exact = prefix + encode_key_value(_literal(value_node, kind)) + "/"
    return {"=": (exact, exact + HIGH), "<": (prefix, exact), "<=": (prefix, exact + HIGH),
            ">": (exact + HIGH, prefix + HIGH), ">=": (exact, prefix + HIGH)}[op]


class ItemReads:
    def __init__(self, tables: TableRepository, items: ItemStore) -> None:
        self.tables = tables
        self.items = items

    def _target(self, table: Table, params: dict[str, Any]) -> Index | None:
        name = params.get("IndexName")
        if name is None:
            return None
        index = table.indexes.get(name)
        if index is None:
            raise validation(f"The table does not have the specified index: {name}")
        if index.global_ and params.get("ConsistentRead"):
            raise validation("Consistent reads are not supported on global secondary indexes")
        return index

    def _select(self, params: dict[str, Any], index: Index | None, projection: list | None) -> str:
        select = params.get("Select")
        if select is None:
            return "SPECIFIC_ATTRIBUTES" if projection else (
                "ALL_PROJECTED_ATTRIBUTES" if index is not None else "ALL_ATTRIBUTES")
        if select == "SPECIFIC_ATTRIBUTES" and not projection:
            raise validation("1 validation error detected: Value 'SPECIFIC_ATTRIBUTES' at 'select' failed to "
                             "satisfy constraint: ProjectionExpression or AttributesToGet must be specified")
        if projection and select != "SPECIFIC_ATTRIBUTES":
            raise validation("Cannot specify the AttributesToGet when choosing to get only the Count"
                             if select == "COUNT" else
                             f"Cannot specify the ProjectionExpression when choosing to get {select}")
        if select == "ALL_PROJECTED_ATTRIBUTES" and index is None:
            raise validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
        if select == "ALL_ATTRIBUTES" and index is not None and index.projection.get("ProjectionType") != "ALL":
            raise validation("One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not "
                             "supported for global secondary index "
                             f"{index.name} because its projection type is not ALL")
        return select

    def _start_key(self, table: Table, index: Index | None, params: dict[str, Any]) -> str | None:
        start = params.get("ExclusiveStartKey")
        if start is None:
            return None
        start = normalize_item(start)
        names = set(table.schema.names) | (set(index.schema.names) if index else set())
        if set(start) != names:
            raise validation("The provided starting key is invalid: The provided key element does not match the "
                             "schema")
        if index is None:
            table.schema.check_key(start)
            return table.item_key(start)
        return index_key(table, index, start)

    def _page(self, table: Table, index: Index | None, rows: Any, params: dict[str, Any], filter_tree: Any,
              projection: list | None, select: str, accept: Any = None) -> dict[str, Any]:
        limit = params.get("Limit")
        if limit is not None and limit < 1:
            raise validation("1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
                             "Member must have value greater than or equal to 1")
        found: list[Item] = []
        read: list[Item] = []
        estimate = 0  # len(repr()) of the items read: above their size, cheap to get
        size: int | None = None  # their exact size, once the estimate says it may matter
        last: Item | None = None
        for _, item in rows:
            if accept is not None and not accept(item):
                continue
            read.append(item)
            if size is None:
                estimate += len(repr(item))
                if estimate >= PAGE_BYTES:
                    size = sum(item_size(i) for i in read)
            else:
                size += item_size(item)
            if filter_tree is None or evaluate(item, filter_tree):
                found.append(item)
            if (limit is not None and len(read) >= limit) or (size is not None and size >= PAGE_BYTES):
                last = item
                break
        scanned = len(read)
        answer: dict[str, Any] = {"Count": len(found), "ScannedCount": scanned}
        if select != "COUNT":
            answer["Items"] = [encoded(project(item, projection) if projection else item) for item in found]
        if last is not None:  # as DynamoDB: a page cut by Limit or size has a LastEvaluatedKey
            names = table.schema.names + (index.schema.names if index else ())
            answer["LastEvaluatedKey"] = {name: last[name] for name in dict.fromkeys(names)}
        if params.get("ReturnConsumedCapacity", "NONE") != "NONE" and size is None:
            size = sum(item_size(i) for i in read)
        consumed = capacity(params, table, read_units(size or 0, bool(params.get("ConsistentRead"))),
                            index.name if index else None)
        if consumed:
            answer["ConsumedCapacity"] = consumed
        return answer

    def query(self, context: Any, params: dict[str, Any]) -> dict[str, Any]:
        table = self.tables.get(context.account_id, context.region, params["TableName"])
        index = self._target(table, params)
        schema = index.schema if index else table.schema
        expression_context = context_of(params, ("KeyConditionExpression", "FilterExpression",
                                                 "ProjectionExpression"))
        if params.get("KeyConditionExpression") is not None:
            key_tree = condition_of(params, expression_context, "KeyConditionExpression")
        elif params.get("KeyConditions"):
            key_tree = legacy.conditions(params["KeyConditions"])
        else:
            raise validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in "
                             "the request.")
        filter_tree = condition_of(params, expression_context, "FilterExpression") or legacy.conditions(
            params.get("QueryFilter"), params.get("ConditionalOperator"))
        projection = projection_of(params, expression_context)
        expression_context.check_all_used()
        hash_part, sort_part = _key_condition(key_tree, schema)
        if filter_tree is not None:
            for path in paths_in(filter_tree):
                if path[0] in schema.names:
                    raise validation("Filter Expression can only contain non-primary key attributes: Primary key "
                                     f"attribute: {path[0]}")
        hash_value = _literal(hash_part.right if isinstance(hash_part.left, PathRef) else hash_part.left,
                              schema.hash_type)
        select = self._select(params, index, projection)
        partition = encode_key_value(hash_value)
        if index is None:
            store_table, prefix = ITEMS, f"{table.id}/{partition}/"
        else:
            store_table, prefix = INDEX, f"{table.id}/{index.name}/{partition}/"
        low, high = _sort_bounds(prefix, sort_part, schema)
        forward = params.get("ScanIndexForward", True)
        rows = self.items.range(store_table, prefix, low, high, reverse=not forward,
                                start_after=self._start_key(table, index, params), expected=params.get("Limit"))
        return self._page(table, index, rows, params, filter_tree, projection, select)

    def scan(self, context: Any, params: dict[str, Any]) -> dict[str, Any]:
        table = self.tables.get(context.account_id, context.region, params["TableName"])
        index = self._target(table, params)
        segment, total = params.get("Segment"), params.get("TotalSegments")
        if (segment is None) != (total is None):
            missing = "TotalSegments" if total is None else "Segment"
            raise validation(f"The {missing} parameter is required but was not present in the request when "
                             f"{'Segment' if total is None else 'TotalSegments'} parameter is present")
        if segment is not None and segment >= total:
            raise validation(f"The Segment parameter is zero-based and must be less than parameter TotalSegments: "
                             f"Segment: {segment} is not less than TotalSegments: {total}")
        expression_context = context_of(params, ("FilterExpression", "ProjectionExpression"))
        filter_tree = condition_of(params, expression_context, "FilterExpression") or legacy.conditions(
            params.get("ScanFilter"), params.get("ConditionalOperator"))
        projection = projection_of(params, expression_context)
        expression_context.check_all_used()
        select = self._select(params, index, projection)
        prefix = f"{table.id}/" if index is None else f"{table.id}/{index.name}/"
        store_table = ITEMS if index is None else INDEX
        rows = self.items.range(store_table, prefix, None, None, start_after=self._start_key(table, index, params),
                                expected=params.get("Limit"))
        accept = None
        if total is not None:
            def accept(item: Item) -> bool:
                partition = table.schema.partition(item)
                return zlib.crc32(partition.encode()) % total == segment
        return self._page(table, index, rows, params, filter_tree, projection, select, accept)
