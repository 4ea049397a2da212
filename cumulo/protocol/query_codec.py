"""Reading AWS query-protocol parameters (``Action=...&Name.member.1=...``) into Python.

The flat ``key=value`` pairs are first folded into a tree on the dots, then read against the
input shape, following the same naming rules botocore's query serializer writes with:
lists are ``Name.member.N`` (or ``Name.N`` when flattened, renamed after the member's
``locationName``), maps are ``Name.entry.N.key/value`` (or ``Name.N.key/value`` when
flattened, with the key/value ``locationName``\\ s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import SerializationError
from cumulo.protocol.values import decode_blob, parse_bool, parse_timestamp

if TYPE_CHECKING:
    from botocore.model import Shape

Tree = dict[str, Any]


def fold(pairs: list[tuple[str, str]]) -> Tree:
    """Fold dotted keys into nested dicts: ``a.b.1=x`` -> ``{"a": {"b": {"1": "x"}}}``."""
    root: Tree = {}
    for key, value in pairs:
        node = root
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        last = parts[-1]
        if not isinstance(node.get(last), dict):
            node[last] = value
    return root


def query_member_name(name: str, member: Shape) -> str:
    """The key a structure member is sent under (flattened lists take their member's name)."""
    if member.type_name == "list" and _flattened(member) and member.member.serialization.get("name"):
        return member.member.serialization["name"]
    return member.serialization.get("name", name)


def _flattened(shape: Shape) -> bool:
    return bool(shape.serialization.get("flattened"))


def _indexed(node: Any) -> list[Any]:
    """Values of a ``{"1": a, "2": b}`` node in index order (an empty string is an empty list)."""
    if not isinstance(node, dict):
        return []
    try:
        return [node[k] for k in sorted(node, key=int)]
    except ValueError as exc:
        raise SerializationError(f"Invalid list index in {sorted(node)}") from exc


def read_query(shape: Shape | None, node: Any, where: str = "") -> Any:
    """Convert a folded query tree to Python according to ``shape``."""
    if shape is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(node, dict):
            return {}
        result = {}
        for name, member in shape.members.items():
            wire = query_member_name(name, member)
            if wire in node:
                result[name] = read_query(member, node[wire], f"{where}.{wire}" if where else wire)
        return result
    if kind == "list":
        if not _flattened(shape):
            node = node.get(shape.member.serialization.get("name", "member"), {}) if isinstance(
                node, dict) else node
        return [read_query(shape.member, item, f"{where}.{i}") for i, item in enumerate(_indexed(node), 1)]
    if kind == "map":
        if not _flattened(shape) and isinstance(node, dict):
            node = node.get("entry", {})
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        result = {}
        for entry in _indexed(node):
            if not isinstance(entry, dict) or key_name not in entry:
                raise SerializationError(f"Map entry of '{where}' is missing its {key_name}")
            result[read_query(shape.key, entry[key_name], where)] = read_query(
                shape.value, entry.get(value_name), where)
        return result
    if isinstance(node, dict):
        raise SerializationError(f"Expected a value for '{where}', found nested parameters")
    return read_scalar(shape, node, where)


def read_scalar(shape: Shape, text: str | None, where: str) -> Any:
    """Convert one text value (query string, header, XML text) to the shape's Python type."""
    if text is None:
        return None
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            return parse_bool(text)
        if kind == "timestamp":
            return parse_timestamp(text)
        if kind == "blob":
            return decode_blob(text)
    except ValueError as exc:
        raise SerializationError(f"Value '{text}' at '{where}' is not a valid {kind}") from exc
    return text
