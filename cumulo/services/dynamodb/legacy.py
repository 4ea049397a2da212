"""The legacy parameters (Expected, QueryFilter/ScanFilter, KeyConditions, AttributeUpdates)
turned into the same trees the expression parser builds."""

from __future__ import annotations

from typing import Any

from cumulo.services.dynamodb.errors import validation
from cumulo.services.dynamodb.expressions.parser import (
    Between,
    Call,
    Compare,
    In,
    Logical,
    Not,
    PathRef,
    UpdateActions,
    Value,
)
from cumulo.services.dynamodb.values import normalize_value

_COMPARE = {"EQ": "=", "NE": "<>", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}


def _values(condition: dict[str, Any]) -> list[Value]:
    return [Value(normalize_value(v)) for v in condition.get("AttributeValueList", [])]


def _one(name: str, condition: dict[str, Any]) -> Any:
    path = PathRef((name,), name)
    operator = condition.get("ComparisonOperator")
    if operator is None:
        if condition.get("Exists") is False:
            if "Value" in condition:
                raise validation("One or more parameter values were invalid: Value cannot be used when Exists is false")
            return Call("attribute_not_exists", (path,))
        if "Value" not in condition:
            raise validation("One or more parameter values were invalid: Value must be provided when Exists is true")
        return Compare("=", path, Value(normalize_value(condition["Value"])))
    values = _values(condition)
    expected = {"NULL": 0, "NOT_NULL": 0, "BETWEEN": 2}.get(operator, None if operator == "IN" else 1)
    if expected is not None and len(values) != expected:
        raise validation(f"One or more parameter values were invalid: Invalid number of argument(s) for the "
                         f"{operator} ComparisonOperator")
    if operator in _COMPARE:
        return Compare(_COMPARE[operator], path, values[0])
    if operator == "NULL":
        return Call("attribute_not_exists", (path,))
    if operator == "NOT_NULL":
        return Call("attribute_exists", (path,))
    if operator == "BETWEEN":
        return Between(path, values[0], values[1])
    if operator == "IN":
        return In(path, tuple(values))
    if operator == "BEGINS_WITH":
        return Call("begins_with", (path, values[0]))
    if operator == "CONTAINS":
        return Call("contains", (path, values[0]))
    if operator == "NOT_CONTAINS":
        return Not(Call("contains", (path, values[0])))
    raise validation(f"Unsupported ComparisonOperator: {operator}")


def conditions(spec: dict[str, Any] | None, operator: str | None = None) -> Any | None:
    """Expected / QueryFilter / ScanFilter / KeyConditions as one condition tree."""
    if not spec:
        return None
    trees = [_one(name, condition) for name, condition in spec.items()]
    tree = trees[0]
    for other in trees[1:]:
        tree = Logical(operator or "AND", tree, other)
    return tree


def attribute_updates(updates: dict[str, Any]) -> UpdateActions:
    actions = UpdateActions()
    for name, update in updates.items():
        path = PathRef((name,), name)
        action = update.get("Action", "PUT")
        value = Value(normalize_value(update["Value"])) if "Value" in update else None
        if action == "PUT":
            if value is None:
                raise validation("One or more parameter values were invalid: Only DELETE action is allowed when no "
                                 "attribute value is specified")
            actions.set.append((path, value))
        elif action == "DELETE":
            if value is None:
                actions.remove.append(path)
            else:
                actions.delete.append((path, value))
        else:
            if value is None:
                raise validation("One or more parameter values were invalid: Only DELETE action is allowed when no "
                                 "attribute value is specified")
            actions.add.append((path, value))
    return actions
