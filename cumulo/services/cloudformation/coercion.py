"""Template values to the types a service's API model declares, as CloudFormation converts them.

A YAML template says ``Variables: {Port: 1234}`` or ``Timeout: "30"``; CloudFormation converts
scalar property values to the types of the resource's schema before calling the service: a
string member gets the text of a number (``1234``, never ``1234.0``) or of a boolean
(``true``/``false``), a number or boolean member gets the value of a numeric or boolean string.
Resource handlers call the services in process, where no wire parser does this, so
``ResourceContext.call`` runs the parameters through :func:`coerce` against the operation's
input shape. A value that cannot be converted (a map where a string belongs, ``"abc"`` for a
number) is a :class:`CoercionError` worded as CloudFormation's property validation.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.model import Shape

NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
INTEGER_TYPES = ("integer", "long")
FLOAT_TYPES = ("float", "double")


class CoercionError(ValueError):
    """A property value does not fit the type the API model declares."""


def _kind_of(value: Any) -> str:
    """How CloudFormation names a JSON value's type in its messages."""
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "JSONArray"
    if isinstance(value, dict):
        return "JSONObject"
    return type(value).__name__


def _mismatch(path: str, expected: str, value: Any) -> CoercionError:
    return CoercionError(f"#/{path}: expected type: {expected}, found: {_kind_of(value)}")


def _text(value: int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def coerce(shape: Shape | None, value: Any, path: str = "") -> Any:
    """``value`` with every scalar converted to its member's model type; raises CoercionError."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            return value
        if not isinstance(value, dict):
            raise _mismatch(path, "JSONObject", value)
        return {name: coerce(shape.members.get(name), item, f"{path}/{name}" if path else name)
                for name, item in value.items()}
    if kind == "list":
        if not isinstance(value, list):
            raise _mismatch(path, "JSONArray", value)
        return [coerce(shape.member, item, f"{path}/{index}") for index, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _mismatch(path, "JSONObject", value)
        return {str(key): coerce(shape.value, item, f"{path}/{key}") for key, item in value.items()}
    if kind == "string":
        if isinstance(value, int | float):  # booleans included
            return _text(value)
        if not isinstance(value, str):
            raise _mismatch(path, "String", value)
        return value
    if kind in INTEGER_TYPES or kind in FLOAT_TYPES:
        return _number(kind, value, path)
    if kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise _mismatch(path, "Boolean", value)
    return value


def _number(kind: str, value: Any, path: str) -> int | float:
    if isinstance(value, str) and NUMBER.match(value.strip()):
        value = float(value) if kind in FLOAT_TYPES or not value.strip().lstrip("-").isdigit() else int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _mismatch(path, "Number" if kind in FLOAT_TYPES else "Integer", value)
    if kind in INTEGER_TYPES:
        if isinstance(value, float) and not value.is_integer():
            raise _mismatch(path, "Integer", value)
        return int(value)
    return value
