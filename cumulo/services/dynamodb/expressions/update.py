"""Applying an UpdateExpression (SET with arithmetic, if_not_exists and list_append; REMOVE; ADD
and DELETE on numbers and sets) to an item. Every right-hand side is computed from the item as it
was before the update, as DynamoDB does."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from cumulo.services.dynamodb.errors import invalid_parameter, validation
from cumulo.services.dynamodb.expressions.evaluation import resolve
from cumulo.services.dynamodb.expressions.parser import Arith, Call, Path, PathRef, UpdateActions, Value
from cumulo.services.dynamodb.values import (
    SET_ELEMENT,
    TYPE_NAMES,
    AttributeValue,
    Item,
    check_number,
    format_number,
    values_equal,
)

_INVALID_PATH = "The document path provided in the update expression is invalid for update"


def _error(message: str) -> Exception:
    return validation(f"Invalid UpdateExpression: {message}")


def _show_path(path: Path) -> str:
    return "[" + ", ".join(str(element) for element in path) + "]"


def check_actions(actions: UpdateActions, key_names: tuple[str, ...]) -> None:
    """Static checks: operand types of ADD/DELETE, no overlapping paths, no key attribute."""
    for _, value in actions.add:
        kind = next(iter(value.value))
        if kind not in ("N", "SS", "NS", "BS"):
            raise _error(f"Incorrect operand type for operator or function; operator: ADD, operand type: "
                         f"{TYPE_NAMES[kind]}")
    for _, value in actions.delete:
        kind = next(iter(value.value))
        if kind not in ("SS", "NS", "BS"):
            raise _error(f"Incorrect operand type for operator or function; operator: DELETE, operand type: "
                         f"{TYPE_NAMES[kind]}")
    for _, value in actions.set:
        _check_set_value(value)
    paths = ([target for target, _ in actions.set] + actions.remove + [t for t, _ in actions.add]
             + [t for t, _ in actions.delete])
    for index, first in enumerate(paths):
        for second in paths[index + 1:]:
            shorter, longer = sorted((first.path, second.path), key=len)
            if longer[:len(shorter)] == shorter:
                raise _error("Two document paths overlap with each other; must remove or rewrite one of these "
                             f"paths; path one: {_show_path(first.path)}, path two: {_show_path(second.path)}")
    for ref in paths:
        if ref.path[0] in key_names:
            raise invalid_parameter(f"Cannot update attribute {ref.path[0]}. This attribute is part of the key")


def _check_set_value(node: Any) -> None:
    if isinstance(node, Arith):
        for side in (node.left, node.right):
            if isinstance(side, Value) and "N" not in side.value:
                raise _error(f"Incorrect operand type for operator or function; operator or function: "
                             f"{'+' if node.op == '+' else '-'}, operand type: {TYPE_NAMES[next(iter(side.value))]}")
            _check_set_value(side)
    elif isinstance(node, Call):
        if node.name == "if_not_exists" and not isinstance(node.args[0], PathRef):
            raise _error("Operator or function requires a document path; operator or function: if_not_exists")
        if node.name == "size":
            raise _error("The function is not allowed in an update expression; function: size")
        if node.name == "list_append":
            for side in node.args:
                if isinstance(side, Value) and "L" not in side.value:
                    raise _error("Incorrect operand type for operator or function; operator or function: "
                                 f"list_append, operand type: {TYPE_NAMES[next(iter(side.value))]}")
        for side in node.args:
            _check_set_value(side)


def _value(item: Item, node: Any) -> AttributeValue:
    if isinstance(node, Value):
        return node.value
    if isinstance(node, PathRef):
        found = resolve(item, node.path)
        if found is None:
            raise validation("The provided expression refers to an attribute that does not exist in the item")
        return found
    if isinstance(node, Arith):
        left, right = _value(item, node.left), _value(item, node.right)
        if "N" not in left or "N" not in right:
            raise validation("An operand in the update expression has an incorrect data type")
        a, b = Decimal(left["N"]), Decimal(right["N"])
        return {"N": format_number(check_number(a + b if node.op == "+" else a - b))}
    if isinstance(node, Call) and node.name == "if_not_exists":
        found = resolve(item, node.args[0].path)
        return found if found is not None else _value(item, node.args[1])
    if isinstance(node, Call) and node.name == "list_append":
        left, right = _value(item, node.args[0]), _value(item, node.args[1])
        if "L" not in left or "L" not in right:
            kind = next(iter(right if "L" in left else left))
            raise _error("Incorrect operand type for operator or function; operator or function: list_append, "
                         f"operand type: {TYPE_NAMES[kind]}")
        return {"L": left["L"] + right["L"]}
    raise _error("unsupported operand")


def _parent(item: Item, path: Path) -> tuple[Any, Any]:
    """The container holding the last element of ``path`` (a members dict or a list) and the key."""
    if len(path) == 1:
        return item, path[0]
    holder = resolve(item, path[:-1])
    last = path[-1]
    if holder is None:
        raise validation(_INVALID_PATH)
    if isinstance(last, int):
        if "L" not in holder:
            raise validation(_INVALID_PATH)
        return holder["L"], last
    if "M" not in holder:
        raise validation(_INVALID_PATH)
    return holder["M"], last


def _assign(item: Item, path: Path, value: AttributeValue) -> None:
    container, key = _parent(item, path)
    if isinstance(container, list):
        if key >= len(container):
            container.append(value)
        else:
            container[key] = value
    else:
        container[key] = value


def _remove(item: Item, path: Path) -> None:
    try:
        container, key = _parent(item, path)
    except Exception:
        if resolve(item, path[:-1]) is None:
            return
        raise
    if isinstance(container, list):
        if key < len(container):
            del container[key]
    else:
        container.pop(key, None)


def apply_update(item: Item, actions: UpdateActions) -> Item:
    """The new item (a copy): SETs first (values from the old item), then REMOVE, ADD, DELETE."""
    old = item
    new = copy.deepcopy(item)
    computed = [(target.path, _value(old, value)) for target, value in actions.set]
    for path, value in computed:
        _assign(new, path, copy.deepcopy(value))
    for ref in sorted(actions.remove, key=lambda r: [(-e if isinstance(e, int) else 0) for e in r.path]):
        _remove(new, ref.path)
    for ref, value in actions.add:
        _add(new, ref.path, value.value)
    for ref, value in actions.delete:
        _delete(new, ref.path, value.value)
    return new


def _add(item: Item, path: Path, value: AttributeValue) -> None:
    current = resolve(item, path)
    kind = next(iter(value))
    if current is None:
        _assign(item, path, copy.deepcopy(value))
        return
    current_kind = next(iter(current))
    if kind != current_kind:
        raise validation("An operand in the update expression has an incorrect data type")
    if kind == "N":
        total = check_number(Decimal(current["N"]) + Decimal(value["N"]))
        _assign(item, path, {"N": format_number(total)})
        return
    merged = list(current[kind])
    for element in value[kind]:
        if not any(values_equal({SET_ELEMENT[kind]: element}, {SET_ELEMENT[kind]: have}) for have in merged):
            merged.append(element)
    _assign(item, path, {kind: merged})


def _delete(item: Item, path: Path, value: AttributeValue) -> None:
    current = resolve(item, path)
    if current is None:
        return
    kind = next(iter(value))
    if next(iter(current)) != kind:
        raise validation("An operand in the update expression has an incorrect data type")
    element_kind = SET_ELEMENT[kind]
    kept = [have for have in current[kind]
            if not any(values_equal({element_kind: have}, {element_kind: gone}) for gone in value[kind])]
    if kept:
        _assign(item, path, {kind: kept})
    else:
        _remove(item, path)


def updated_paths(actions: UpdateActions) -> list[PathRef]:
    return ([target for target, _ in actions.set] + list(actions.remove) + [t for t, _ in actions.add]
            + [t for t, _ in actions.delete])
