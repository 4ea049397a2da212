"""Key schemas and the order-preserving text encoding of key values.

Items live in the store under ``<table id>/<partition>/<sort>``. The partition key is hex of its
bytes (only equality matters); the sort key is encoded so that text order is DynamoDB's order:

* S and B: hex of the UTF-8 / raw bytes (byte order, a prefix sorts first);
* N: ``1`` for zero; ``2`` + 3-digit biased exponent + mantissa digits for positives; ``0`` +
  complemented exponent + complemented digits + ``~`` for negatives.

Every encoding uses only ``0-9 a-f ~``, all above ``/``, so components can be joined by ``/``
and a Query on ``begins_with`` or a range reads only its own slice of the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cumulo.services.dynamodb.errors import invalid_parameter, key_mismatch, validation
from cumulo.services.dynamodb.values import AttributeValue, Item, type_of


def encode_number(value: Decimal) -> str:
    if value.is_zero():
        return "1"
    sign, digits, exponent = value.normalize().as_tuple()
    mantissa = "".join(map(str, digits)).rstrip("0") or "0"
    adjusted = len(digits) + int(exponent) - 1 + 200  # 70..325, three digits
    if not sign:
        return f"2{adjusted:03d}{mantissa}"
    complement = "".join(str(9 - int(d)) for d in mantissa)
    return f"0{999 - adjusted:03d}{complement}~"


def encode_key_value(value: AttributeValue) -> str:
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return inner.encode().hex()
    if kind == "B":
        return bytes(inner).hex()
    return encode_number(Decimal(inner))


@dataclass(frozen=True)
class KeySchema:
    """The hash and optional range attribute of a table or index, with their types."""

    hash_name: str
    hash_type: str
    range_name: str | None = None
    range_type: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.hash_name,) if self.range_name is None else (self.hash_name, self.range_name)

    @classmethod
    def from_description(cls, schema: list[dict], types: dict[str, str]) -> KeySchema:
        hash_name = next(e["AttributeName"] for e in schema if e["KeyType"] == "HASH")
        range_name = next((e["AttributeName"] for e in schema if e["KeyType"] == "RANGE"), None)
        return cls(hash_name, types[hash_name], range_name, types.get(range_name) if range_name else None)

    def key_of(self, item: Item) -> Item:
        return {name: item[name] for name in self.names}

    def has_key(self, item: Item) -> bool:
        """Whether the item carries this (index) key with the right types, so an index holds it."""
        for name, kind in ((self.hash_name, self.hash_type), (self.range_name, self.range_type)):
            if name is None:
                continue
            value = item.get(name)
            if value is None or type_of(value) != kind:
                return False
        return True

    def partition(self, item: Item) -> str:
        return encode_key_value(item[self.hash_name])

    def sort(self, item: Item) -> str:
        return encode_key_value(item[self.range_name]) if self.range_name else ""

    def check_item(self, item: Item) -> None:
        """The checks PutItem makes of an item's key attributes."""
        for name, kind in ((self.hash_name, self.hash_type), (self.range_name, self.range_type)):
            if name is None:
                continue
            value = item.get(name)
            if value is None:
                raise invalid_parameter(f"Missing the key {name} in the item")
            actual = type_of(value)
            if actual != kind:
                raise invalid_parameter(f"Type mismatch for key {name} expected: {kind} actual: {actual}")
            check_not_empty(name, value)

    def check_key(self, key: Item) -> None:
        """The checks GetItem/UpdateItem/DeleteItem make of a Key parameter."""
        if set(key) != set(self.names):
            raise key_mismatch()
        for name, kind in ((self.hash_name, self.hash_type), (self.range_name, self.range_type)):
            if name is None:
                continue
            if type_of(key[name]) != kind:
                raise key_mismatch()
            check_not_empty(name, key[name])

    def check_index_values(self, item: Item, index: str) -> None:
        """An item whose index key attribute has the wrong type or is empty is refused."""
        for name, kind in ((self.hash_name, self.hash_type), (self.range_name, self.range_type)):
            if name is None or name not in item:
                continue
            actual = type_of(item[name])
            if actual != kind:
                raise invalid_parameter(
                    f"Type mismatch for Index Key {name} Expected: {kind} Actual: {actual} IndexName: {index}")
            if item[name].get(actual) in ("", b""):
                raise invalid_parameter(
                    "One or more parameter values are not valid. A value specified for a secondary index key "
                    f"is not supported. The AttributeValue for a key attribute cannot contain an empty string "
                    f"value. IndexName: {index}, IndexKey: {name}")


def check_not_empty(name: str, value: AttributeValue) -> None:
    if next(iter(value.values())) in ("", b""):
        kind = "binary" if "B" in value else "string"
        raise validation("One or more parameter values are not valid. The AttributeValue for a key attribute "
                         f"cannot contain an empty {kind} value. Key: {name}")
