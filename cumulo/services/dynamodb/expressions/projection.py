"""ProjectionExpression: copy only the named document paths of an item (nested paths keep their
enclosing maps and lists, list elements in their original order)."""

from __future__ import annotations

from typing import Any

from cumulo.services.dynamodb.errors import validation
from cumulo.services.dynamodb.expressions.parser import Path, PathRef
from cumulo.services.dynamodb.values import Item


def check_overlap(paths: list[PathRef], kind: str = "ProjectionExpression") -> None:
    for index, first in enumerate(paths):
        for second in paths[index + 1:]:
            shorter, longer = sorted((first.path, second.path), key=len)
            if longer[:len(shorter)] == shorter:
                one, two = (first, second)
                raise validation(
                    f"Invalid {kind}: Two document paths overlap with each other; must remove or rewrite one of "
                    f"these paths; path one: [{', '.join(map(str, one.path))}], path two: "
                    f"[{', '.join(map(str, two.path))}]")


def project(item: Item, paths: list[PathRef]) -> Item:
    result: dict[str, Any] = {}
    for ref in paths:
        _copy(item, result, ref.path)
    return _compact(result)


def _copy(source: Item, target: dict[str, Any], path: Path) -> None:
    head = path[0]
    if head not in source:
        return
    if len(path) == 1:
        target[head] = source[head]
        return
    node = source[head]
    holder = target.setdefault(head, {"__partial": True, "kind": None, "children": {}})
    _copy_nested(node, holder, path[1:])


def _copy_nested(node: dict[str, Any], holder: dict[str, Any], path: Path) -> None:
    element = path[0]
    if isinstance(element, int):
        items = node.get("L")
        if items is None or element >= len(items):
            return
        holder["kind"] = "L"
        child = items[element]
    else:
        members = node.get("M")
        if members is None or element not in members:
            return
        holder["kind"] = "M"
        child = members[element]
    if len(path) == 1:
        holder["children"][element] = child
        return
    sub = holder["children"].setdefault(element, {"__partial": True, "kind": None, "children": {}})
    _copy_nested(child, sub, path[1:])


def _compact(result: dict[str, Any]) -> Item:
    out: Item = {}
    for name, value in result.items():
        built = _build(value)
        if built is not None:
            out[name] = built
    return out


def _build(value: dict[str, Any]) -> dict[str, Any] | None:
    if "__partial" not in value:
        return value
    if value["kind"] is None:
        return None
    children = {key: _build(child) for key, child in value["children"].items()}
    children = {key: child for key, child in children.items() if child is not None}
    if not children:
        return None
    if value["kind"] == "L":
        return {"L": [children[index] for index in sorted(children)]}
    return {"M": children}
