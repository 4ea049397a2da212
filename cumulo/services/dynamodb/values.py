"""Attribute values: numbers with DynamoDB's 38-digit precision, sets, sizes, comparison, and
the conversion between the wire form (bytes for B) and the stored JSON form (base64 for B).

An attribute value is the wire dict ``{"S": "x"}``, ``{"N": "1.5"}``, ``{"B": b"..."}``,
``{"SS": [...]}``, ``{"M": {...}}``, ``{"L": [...]}``, ``{"NULL": True}``, ``{"BOOL": b}``.
"""

from __future__ import annotations

import base64
import decimal
from decimal import Decimal
from typing import Any

from cumulo.protocol.json_codec import Encoded
from cumulo.services.dynamodb.errors import invalid_parameter, validation

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

_ARITHMETIC = decimal.Context(prec=60)
SET_ELEMENT = {"SS": "S", "NS": "N", "BS": "B"}
_SET_NAMES = {"SS": "string set", "NS": "number set", "BS": "binary set"}
TYPE_NAMES = {"S": "STRING", "N": "NUMBER", "B": "BINARY", "SS": "STRING_SET", "NS": "NUMBER_SET",
              "BS": "BINARY_SET", "M": "MAP", "L": "LIST", "NULL": "NULL", "BOOL": "BOOLEAN"}


def parse_number(text: str) -> Decimal:
    """A number as DynamoDB accepts it: at most 38 significant digits, magnitude 1E-130 to 1E+126."""
    try:
        value = Decimal(text.strip()) if text and text == text.strip() else Decimal("x")
    except decimal.InvalidOperation:
        raise validation("A value provided cannot be converted into a number") from None
    if not value.is_finite():
        raise validation("A value provided cannot be converted into a number")
    return check_number(value)


def check_number(value: Decimal) -> Decimal:
    if value.is_zero():
        return Decimal(0)
    normal = value.normalize(_ARITHMETIC)
    digits = len(normal.as_tuple().digits)
    if digits > 38:
        raise validation("Attempting to store more than 38 significant digits in a Number")
    if normal.adjusted() > 125:
        raise validation("Number overflow. Attempting to store a number with magnitude larger than supported range")
    if normal.adjusted() < -130:
        raise validation("Number underflow. Attempting to store a number with magnitude smaller than supported range")
    return normal


def format_number(value: Decimal) -> str:
    """The canonical text DynamoDB returns: no exponent, no trailing zeros."""
    if value.is_zero():
        return "0"
    text = format(value.normalize(_ARITHMETIC), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def type_of(value: AttributeValue) -> str:
    return next(iter(value))


def normalize_value(value: AttributeValue, key_name: str = "") -> AttributeValue:
    """Check one attribute value from a request and return it in canonical form."""
    if len(value) != 1:
        if not value:
            raise validation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
        raise validation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of "
                         "the supported datatypes")
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return {"N": format_number(parse_number(inner))}
    if kind in SET_ELEMENT:
        if not inner:
            raise invalid_parameter(f"An {_SET_NAMES[kind]}  may not be empty")
        if kind == "NS":
            numbers = [parse_number(text) for text in inner]
            if len(set(numbers)) != len(numbers):
                raise invalid_parameter(f"Input collection [{', '.join(inner)}] contains duplicates.")
            return {"NS": [format_number(number) for number in numbers]}
        if len(set(inner)) != len(inner):
            shown = ", ".join(str(element) for element in inner)
            raise invalid_parameter(f"Input collection [{shown}] contains duplicates.")
        return {kind: list(inner)}
    if kind == "M":
        return {"M": {name: normalize_value(member) for name, member in inner.items()}}
    if kind == "L":
        return {"L": [normalize_value(member) for member in inner]}
    if kind == "NULL" and inner is not True:
        raise invalid_parameter("Null attribute value types must have the value of true")
    return value


def normalize_item(item: Item) -> Item:
    return {name: normalize_value(value) for name, value in item.items()}


# ------------------------------------------------------------------ sizes
def value_size(value: AttributeValue) -> int:
    """Bytes an attribute value counts for, by DynamoDB's item-size rules."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner)
    if kind == "N":
        return number_size(inner)
    if kind == "SS":
        return sum(len(element.encode()) for element in inner)
    if kind == "BS":
        return sum(len(element) for element in inner)
    if kind == "NS":
        return sum(number_size(element) for element in inner)
    if kind == "M":
        return 3 + sum(len(name.encode()) + 1 + value_size(member) for name, member in inner.items())
    if kind == "L":
        return 3 + sum(1 + value_size(member) for member in inner)
    return 1


def number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").strip("0")
    return 1 + (len(digits) + 1) // 2 + (1 if text.startswith("-") else 0)


def item_size(item: Item) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


# ----------------------------------------------------------------- compare
def comparable(value: AttributeValue) -> tuple[str, Any] | None:
    """A Python value ordered as DynamoDB orders scalars (None for non-scalars)."""
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return kind, Decimal(inner)
    if kind == "S":
        return kind, inner
    if kind == "B":
        return kind, bytes(inner)
    return None


def values_equal(left: AttributeValue, right: AttributeValue) -> bool:
    kind, inner = next(iter(left.items()))
    other_kind, other = next(iter(right.items()))
    if kind != other_kind:
        return False
    if kind == "N":
        return Decimal(inner) == Decimal(other)
    if kind == "NS":
        return {Decimal(x) for x in inner} == {Decimal(x) for x in other}
    if kind in ("SS", "BS"):
        return set(inner) == set(other)
    if kind == "M":
        return inner.keys() == other.keys() and all(values_equal(inner[k], other[k]) for k in inner)
    if kind == "L":
        return len(inner) == len(other) and all(values_equal(a, b) for a, b in zip(inner, other, strict=True))
    return inner == other


# ----------------------------------------------------------- store codec
_PLAIN = frozenset({"S", "N", "BOOL", "NULL", "SS", "NS"})


def to_stored(item: Item) -> dict[str, Any]:
    """The item as JSON-ready data (binary as base64 text): DynamoDB's wire form."""
    for value in item.values():
        if not _PLAIN.issuperset(value):
            return {name: _encode(value) for name, value in item.items()}
    return item  # nothing binary, nothing nested: already JSON-ready


def encoded(item: Item) -> Encoded:
    """The item for a response, serialized here rather than walked by the protocol layer."""
    return Encoded(to_stored(item))


def from_stored(item: dict[str, Any]) -> Item:
    for value in item.values():
        if not _PLAIN.issuperset(value):
            return {name: _decode(value) for name, value in item.items()}
    return item  # nothing binary, nothing nested: as stored


def _encode(value: AttributeValue) -> Any:
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(element).decode() for element in inner]}
    if kind == "M":
        return {"M": {name: _encode(member) for name, member in inner.items()}}
    if kind == "L":
        return {"L": [_encode(member) for member in inner]}
    return value


def _decode(value: Any) -> AttributeValue:
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(element) for element in inner]}
    if kind == "M":
        return {"M": {name: _decode(member) for name, member in inner.items()}}
    if kind == "L":
        return {"L": [_decode(member) for member in inner]}
    return value
