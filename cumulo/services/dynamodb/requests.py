"""What every item operation shares: expression placeholders, return values, consumed capacity."""

from __future__ import annotations

import math
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.dynamodb.errors import validation
from cumulo.services.dynamodb.expressions.evaluation import check_static
from cumulo.services.dynamodb.expressions.parser import Context, PathRef, parse_condition, parse_projection
from cumulo.services.dynamodb.expressions.projection import check_overlap
from cumulo.services.dynamodb.tables import Table
from cumulo.services.dynamodb.values import Item, item_size, normalize_value


def context_of(params: dict[str, Any], expressions: tuple[str, ...]) -> Context:
    """The request's placeholders, refused as DynamoDB refuses them when given without expressions."""
    names = params.get("ExpressionAttributeNames")
    values = params.get("ExpressionAttributeValues")
    present = [name for name in expressions if params.get(name) is not None]
    null = " and ".join(expressions) + (" are null" if len(expressions) > 1 else " is null")
    if names is not None:
        if not names:
            raise validation("ExpressionAttributeNames must not be empty")
        if not present:
            raise validation(f"ExpressionAttributeNames can only be specified when using expressions: {null}")
    if values is not None:
        if not values:
            raise validation("ExpressionAttributeValues must not be empty")
        if not present:
            raise validation(f"ExpressionAttributeValues can only be specified when using expressions: {null}")
        for name in values:
            if not name.startswith(":"):
                raise validation(f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{name}"')
        values = {name: _value(name, value) for name, value in values.items()}
    if names:
        for name in names:
            if not name.startswith("#"):
                raise validation(f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{name}"')
    return Context(names or {}, values or {})


def _value(name: str, value: dict[str, Any]) -> dict[str, Any]:
    try:
        return normalize_value(value)
    except AwsError as error:
        raise validation(f"ExpressionAttributeValues contains invalid value: {error.message} for key {name}") from None


def condition_of(params: dict[str, Any], context: Context, name: str = "ConditionExpression") -> Any | None:
    text = params.get(name)
    if text is None:
        return None
    tree = parse_condition(text, context, name)
    check_static(tree, name)
    return tree


def projection_of(params: dict[str, Any], context: Context) -> list | None:
    text = params.get("ProjectionExpression")
    if text is None:
        attributes = params.get("AttributesToGet")
        if attributes:
            return [PathRef((name,), name) for name in attributes]
        return None
    paths = parse_projection(text, context)
    check_overlap(paths)
    return paths


def check_return_values(params: dict[str, Any], allowed: tuple[str, ...]) -> str:
    value = params.get("ReturnValues", "NONE")
    if value not in allowed:
        raise validation("ReturnValues can only be " + " or ".join(allowed))
    return value


def capacity(params: dict[str, Any], table: Table, units: float, index: str | None = None) -> dict[str, Any] | None:
    mode = params.get("ReturnConsumedCapacity", "NONE")
    if mode == "NONE":
        return None
    answer: dict[str, Any] = {"TableName": table.name, "CapacityUnits": units}
    if mode == "INDEXES":
        if index is None:
            answer["Table"] = {"CapacityUnits": units}
        else:
            answer["Table"] = {"CapacityUnits": 0.0}
            key = "GlobalSecondaryIndexes" if table.indexes[index].global_ else "LocalSecondaryIndexes"
            answer[key] = {index: {"CapacityUnits": units}}
    return answer


def write_units(*items: Item | None) -> float:
    return float(max([math.ceil(item_size(i) / 1024) for i in items if i] + [1]))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units if consistent else units / 2)
