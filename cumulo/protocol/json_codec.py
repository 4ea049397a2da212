"""Shape-driven conversion between JSON documents and Python values.

Used for the body of ``json`` and ``rest-json`` requests and responses. Reading checks the
JSON type of every member against the model (a mismatch is a ``SerializationException``,
as AWS answers); writing turns bytes into base64 and datetimes into the model's timestamp
format and leaves out members whose value is ``None``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import SerializationError
from cumulo.protocol.values import as_datetime, decode_blob, encode_blob, format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from botocore.model import Shape

# Deepest nesting of objects and arrays a request document may have. DynamoDB, the deepest AWS
# service, allows 32 levels of nested attributes (about 66 JSON levels); Python's own recursion
# limit (1,000 frames, shared with the server's stack) must never be what refuses a request.
MAX_NESTING_DEPTH = 128

_JSON_TYPE_NAMES = {dict: "structure", list: "list", str: "string", bool: "boolean",
                    int: "number", float: "number", type(None): "null"}


def _mismatch(shape: Shape, value: Any, where: str) -> SerializationError:
    found = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    return SerializationError(
        f"Unexpected {found} value at '{where or '$'}': expected {shape.type_name}")


def _containers_in(node: dict | list) -> list[dict | list]:
    children = node.values() if isinstance(node, dict) else node
    return [child for child in children if isinstance(child, dict | list)]


def check_nesting(document: Any) -> None:
    """Refuse a decoded document nested deeper than ``MAX_NESTING_DEPTH`` (a ``SerializationError``)."""
    level = [document] if isinstance(document, dict | list) else []
    for _ in range(MAX_NESTING_DEPTH):
        level = [child for node in level for child in _containers_in(node)]
        if not level:
            return
    raise SerializationError(f"Document nested more than {MAX_NESTING_DEPTH} levels deep")


def load_json(body: bytes) -> Any:
    """Decode a JSON request document; malformed or too deeply nested is a ``SerializationError``.

    The depth is only walked when the body has more brackets than the limit (a count in C), so
    ordinary requests pay nothing for it."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SerializationError(f"Malformed JSON body: {exc}") from exc
    except RecursionError as exc:
        raise SerializationError(f"Document nested more than {MAX_NESTING_DEPTH} levels deep") from exc
    if body.count(b"[") + body.count(b"{") > MAX_NESTING_DEPTH:
        check_nesting(document)
    return document


def wire_members(shape: Shape) -> dict[str, tuple[str, Shape]]:
    """Body members of a structure by their wire name (``locationName`` where the model sets one)."""
    cached = shape.__dict__.get("_cumulo_wire_members")
    if cached is None:
        cached = {
            member.serialization.get("name", name): (name, member)
            for name, member in shape.members.items()
            if not member.serialization.get("location")
        }
        shape.__dict__["_cumulo_wire_members"] = cached
    return cached


def read_json(shape: Shape | None, value: Any, where: str = "", native: bool = False) -> Any:
    """Convert a decoded JSON value to Python according to ``shape``.

    ``native``: the document came from CBOR, where blobs are byte strings and timestamps may
    already be datetimes.
    """
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            return value
        if not isinstance(value, dict):
            raise _mismatch(shape, value, where)
        result = {}
        for key, item in value.items():
            found = wire_members(shape).get(key)
            if found is None:
                continue  # AWS ignores unknown members
            name, member = found
            result[name] = read_json(member, item, f"{where}.{key}" if where else key, native)
        return result
    if kind == "list":
        if not isinstance(value, list):
            raise _mismatch(shape, value, where)
        return [read_json(shape.member, item, f"{where}[{i}]", native) for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _mismatch(shape, value, where)
        return {key: read_json(shape.value, item, f"{where}.{key}", native) for key, item in value.items()}
    if kind == "string":
        if not isinstance(value, str):
            raise _mismatch(shape, value, where)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _mismatch(shape, value, where)
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _mismatch(shape, value, where)
        if isinstance(value, float):
            if not value.is_integer():
                raise SerializationError(f"Unexpected decimal value at '{where}': expected {kind}")
            value = int(value)
        return value
    if kind in ("float", "double"):
        if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
            return float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _mismatch(shape, value, where)
        return float(value)
    if kind == "timestamp":
        if native and isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _mismatch(shape, value, where)
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            raise SerializationError(f"Invalid timestamp at '{where}': {value!r}") from exc
    if kind == "blob":
        if native and isinstance(value, bytes):
            return value
        if not isinstance(value, str):
            raise _mismatch(shape, value, where)
        try:
            return decode_blob(value)
        except ValueError as exc:
            raise SerializationError(f"Invalid base64 value at '{where}'") from exc
    return value


class Encoded(dict):
    """A map or structure a provider has already written in its JSON form (blobs as base64): written
    as is, without walking its shape (DynamoDB's items: a page of 100 is a walk of 3,000 nodes)."""


def write_json(shape: Shape | None, value: Any, timestamp_format: str = "unixTimestamp",
               native: bool = False) -> Any:
    """Convert a Python value to a JSON-ready value according to ``shape``.

    ``native``: for CBOR, keep blobs as bytes and timestamps as datetimes.
    """
    if value is None or shape is None:
        return value
    if type(value) is Encoded:
        return value
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            return value
        members = shape.members
        result = {}
        for key, item in value.items():
            member = members.get(key)
            if member is None or item is None or member.serialization.get("location"):
                continue
            name = member.serialization.get("name", key)
            result[name] = write_json(member, item, timestamp_format, native)
        return result
    if kind == "list":
        return [write_json(shape.member, item, timestamp_format, native) for item in value]
    if kind == "map":
        return {key: write_json(shape.value, item, timestamp_format, native) for key, item in value.items()}
    if native and kind == "timestamp":
        return as_datetime(value)
    if native and kind == "blob":
        return value.encode() if isinstance(value, str) else value
    if kind == "timestamp":
        return format_timestamp(value, shape.serialization.get("timestampFormat", timestamp_format))
    if kind == "blob":
        return encode_blob(value)
    if kind in ("float", "double") and isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value
