"""Evaluating parsed conditions and operands against an item (DynamoDB's semantics: a missing
attribute makes a comparison false, ordering applies to same-typed scalars only)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cumulo.services.dynamodb.errors import validation
from cumulo.services.dynamodb.expressions.parser import (
    Between,
    Call,
    Compare,
    In,
    Logical,
    Not,
    Path,
    PathRef,
    Value,
)
from cumulo.services.dynamodb.values import TYPE_NAMES, AttributeValue, Item, comparable, values_equal

VALID_TYPES = ("B", "BOOL", "BS", "L", "M", "N", "NS", "NULL", "S", "SS")


def resolve(item: Item, path: Path) -> AttributeValue | None:
    """The value at a document path, or None when any step is missing or of the wrong type."""
    current: Any = item.get(path[0])
    for element in path[1:]:
        if current is None:
            return None
        if isinstance(element, int):
            items = current.get("L")
            if items is None or element >= len(items):
                return None
            current = items[element]
        else:
            members = current.get("M")
            if members is None:
                return None
            current = members.get(element)
    return current


def operand_value(item: Item, operand: Any) -> AttributeValue | None:
    if isinstance(operand, Value):
        return operand.value
    if isinstance(operand, PathRef):
        return resolve(item, operand.path)
    if isinstance(operand, Call) and operand.name == "size":
        target = operand_value(item, operand.args[0])
        return None if target is None else size_of(target)
    raise validation("Invalid ConditionExpression: unsupported operand")


def size_of(value: AttributeValue) -> AttributeValue | None:
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return {"N": str(len(inner.encode()))}
    if kind in ("B", "SS", "NS", "BS", "L", "M"):
        return {"N": str(len(inner))}
    return None


def _order(op: str, left: AttributeValue, right: AttributeValue) -> bool:
    a, b = comparable(left), comparable(right)
    if a is None or b is None or a[0] != b[0]:
        return False
    x, y = a[1], b[1]
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def evaluate(item: Item, node: Any) -> bool:
    if isinstance(node, Logical):
        if node.op == "AND":
            return evaluate(item, node.left) and evaluate(item, node.right)
        return evaluate(item, node.left) or evaluate(item, node.right)
    if isinstance(node, Not):
        return not evaluate(item, node.operand)
    if isinstance(node, Compare):
        left, right = operand_value(item, node.left), operand_value(item, node.right)
        if node.op == "<>":
            return left is None or right is None or not values_equal(left, right)
        if left is None or right is None:
            return False
        if node.op == "=":
            return values_equal(left, right)
        return _order(node.op, left, right)
    if isinstance(node, Between):
        value = operand_value(item, node.operand)
        low, high = operand_value(item, node.low), operand_value(item, node.high)
        if value is None or low is None or high is None:
            return False
        return _order(">=", value, low) and _order("<=", value, high)
    if isinstance(node, In):
        value = operand_value(item, node.operand)
        return value is not None and any(
            option is not None and values_equal(value, option)
            for option in (operand_value(item, o) for o in node.options))
    if isinstance(node, Call):
        return _function(item, node)
    raise validation("Invalid ConditionExpression: unsupported expression")


def _function(item: Item, call: Call) -> bool:
    target = resolve(item, call.args[0].path)
    if call.name == "attribute_exists":
        return target is not None
    if call.name == "attribute_not_exists":
        return target is None
    argument = operand_value(item, call.args[1])
    if call.name == "attribute_type":
        return target is not None and argument is not None and next(iter(target)) == argument.get("S")
    if target is None or argument is None:
        return False
    kind, inner = next(iter(target.items()))
    other_kind, other = next(iter(argument.items()))
    if call.name == "begins_with":
        if kind == "S" and other_kind == "S":
            return inner.startswith(other)
        if kind == "B" and other_kind == "B":
            return bytes(inner).startswith(bytes(other))
        return False
    # contains
    if kind == "S" and other_kind == "S":
        return other in inner
    if kind == "B" and other_kind == "B":
        return bytes(other) in bytes(inner)
    if kind in ("SS", "BS") and other_kind == kind[0]:
        return other in inner
    if kind == "NS" and other_kind == "N":
        return Decimal(other) in {Decimal(n) for n in inner}
    if kind == "L":
        return any(values_equal(element, argument) for element in inner)
    return False


def check_static(node: Any, kind: str) -> None:
    """The checks DynamoDB makes before reading any item: BETWEEN bounds in order, valid
    attribute_type names, operand types of functions given literal values."""
    if isinstance(node, Logical):
        check_static(node.left, kind)
        check_static(node.right, kind)
    elif isinstance(node, Not):
        check_static(node.operand, kind)
    elif isinstance(node, Between) and isinstance(node.low, Value) and isinstance(node.high, Value):
        low, high = comparable(node.low.value), comparable(node.high.value)
        if low and high and low[0] == high[0] and low[1] > high[1]:
            raise validation(
                f"Invalid {kind}: The BETWEEN operator requires upper bound to be greater than or equal to lower "
                f"bound; lower bound operand: AttributeValue: {{{_show(node.low.value)}}}, upper bound operand: "
                f"AttributeValue: {{{_show(node.high.value)}}}")
    elif isinstance(node, Call) and node.name == "attribute_type" and isinstance(node.args[1], Value):
        name = node.args[1].value.get("S")
        if name not in VALID_TYPES:
            raise validation(f"Invalid {kind}: Invalid attribute type name found; type: {name}, valid types: "
                             "{ B,BOOL,BS,L,M,N,NS,NULL,S,SS }")
    elif isinstance(node, Call) and node.name == "begins_with" and isinstance(node.args[1], Value):
        value_kind = next(iter(node.args[1].value))
        if value_kind not in ("S", "B"):
            raise validation(f"Invalid {kind}: Incorrect operand type for operator or function; operator or "
                             f"function: begins_with, operand type: {TYPE_NAMES[value_kind]}")


def _show(value: AttributeValue) -> str:
    kind, inner = next(iter(value.items()))
    return f"{kind}:{inner}"


def paths_in(node: Any) -> list[Path]:
    """Every document path a condition reads (for KeyConditionExpression analysis)."""
    if isinstance(node, PathRef):
        return [node.path]
    if isinstance(node, Logical | Compare):
        return paths_in(node.left) + paths_in(node.right)
    if isinstance(node, Not):
        return paths_in(node.operand)
    if isinstance(node, Between):
        return paths_in(node.operand) + paths_in(node.low) + paths_in(node.high)
    if isinstance(node, In):
        return paths_in(node.operand) + [p for o in node.options for p in paths_in(o)]
    if isinstance(node, Call):
        return [p for a in node.args for p in paths_in(a)]
    return []
