"""Message bodies and message attributes: validation, sizes and the MD5 digests SDKs verify.

The digest of message attributes is AWS's documented encoding: attributes sorted by name,
each written as ``len(name) name len(type) type transport value`` with 4-byte big-endian
lengths over UTF-8 bytes and a one-byte transport type (1 string, 2 binary, 3 string list,
4 binary list). The Java, Go and JavaScript SDKs recompute it and fail the call on a
mismatch, so it must be exact.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from cumulo.services.sqs.errors import invalid_value, missing, sqs_error

MAX_ATTRIBUTES = 10
MAX_NAME = 256
# The characters XML 1.0 does not allow (SQS's rule for bodies and string attribute values),
# written as that small set rather than the complement of the allowed ranges, which costs
# tens of milliseconds to compile at every server start.
_INVALID_CHARACTER = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]")
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_\-.]+$")
INVALID_CHARACTERS = ("Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF "
                      "| #xE000 to #xFFFD | #x10000 to #x10FFFF")
_TRANSPORT = {"StringValue": 1, "BinaryValue": 2, "StringListValues": 3, "BinaryListValues": 4}


def md5_hex(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def _length_prefixed(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def attributes_md5(attributes: Mapping[str, Mapping[str, Any]] | None) -> str | None:
    """MD5OfMessageAttributes (also MD5OfMessageSystemAttributes); None when there are none."""
    if not attributes:
        return None
    buffer = bytearray()
    for name in sorted(attributes):
        attribute = attributes[name]
        buffer += _length_prefixed(name.encode())
        buffer += _length_prefixed(str(attribute.get("DataType", "")).encode())
        for field, transport in _TRANSPORT.items():
            value = attribute.get(field)
            if value is None or (field.endswith("ListValues") and not value):
                continue
            buffer.append(transport)
            if field.endswith("ListValues"):
                for item in value:
                    buffer += _length_prefixed(_as_bytes(item))
            else:
                buffer += _length_prefixed(_as_bytes(value))
            break
    return md5_hex(bytes(buffer))


def check_body(body: str | None) -> bytes:
    """The body as UTF-8 bytes; rejects an empty body and characters SQS does not accept."""
    if not body:
        raise missing("MessageBody")
    if _INVALID_CHARACTER.search(body):
        raise sqs_error("InvalidMessageContents", INVALID_CHARACTERS)
    return body.encode("utf-8", "surrogatepass")


def attributes_size(attributes: Mapping[str, Mapping[str, Any]] | None) -> int:
    """Bytes the attributes count against the message size limit: names, types and values."""
    total = 0
    for name, attribute in (attributes or {}).items():
        total += len(name.encode()) + len(str(attribute.get("DataType", "")).encode())
        for field in ("StringValue", "BinaryValue"):
            value = attribute.get(field)
            if value is not None:
                total += len(_as_bytes(value))
    return total


def check_message_attributes(attributes: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Validate user message attributes as SQS does; returns them in storable form."""
    if not attributes:
        return {}
    if len(attributes) > MAX_ATTRIBUTES:
        raise invalid_value(f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
                            f"[{MAX_ATTRIBUTES}].")
    stored: dict[str, dict[str, Any]] = {}
    for name, attribute in attributes.items():
        _check_name(name)
        stored[name] = _check_value(name, attribute or {})
    return stored


def check_system_attributes(attributes: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """MessageSystemAttributes: only AWSTraceHeader, a String."""
    if not attributes:
        return {}
    stored = {}
    for name, attribute in attributes.items():
        if name != "AWSTraceHeader":
            raise invalid_value(f"Message system attribute name '{name}' is invalid.")
        value = _check_value(name, attribute or {})
        if value["DataType"] != "String" or "StringValue" not in value:
            raise invalid_value("Message system attribute 'AWSTraceHeader' must be of type 'String'.")
        stored[name] = value
    return stored


def _check_name(name: str) -> None:
    lowered = name.lower()
    if not name:
        raise invalid_value("Message (user) attribute name must not be empty.")
    if len(name.encode()) > MAX_NAME:
        raise invalid_value(f"Message (user) attribute name {name} exceeds the maximum allowed length of "
                            f"{MAX_NAME} bytes.")
    if not _ATTRIBUTE_NAME.match(name):
        raise invalid_value(f"Message (user) attribute name '{name}' can only contain alphanumeric characters, "
                            "hyphens (-), underscores (_) and periods (.).")
    if lowered.startswith(("aws.", "amazon.")):
        raise invalid_value(f"You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. These "
                            f"strings are reserved for internal use. Attribute name: '{name}'.")
    if name.startswith(".") or name.endswith(".") or ".." in name:
        raise invalid_value(f"Message (user) attribute name '{name}' can't start or end with a period (.), or "
                            "contain two successive periods.")


def _check_value(name: str, attribute: Mapping[str, Any]) -> dict[str, Any]:
    data_type = attribute.get("DataType")
    if not data_type:
        raise invalid_value(f"The message attribute '{name}' must contain non-empty message attribute type.")
    base = data_type.split(".", 1)[0]
    if base not in ("String", "Number", "Binary"):
        raise invalid_value(f"The type of message (user) attribute '{name}' is invalid. You must use only the "
                            "following supported type prefixes: Binary, Number, String.")
    if len(data_type.encode()) > MAX_NAME:
        raise invalid_value(f"Message (user) attribute '{name}' type must be shorter than {MAX_NAME} bytes.")
    if _INVALID_CHARACTER.search(data_type):
        raise invalid_value(INVALID_CHARACTERS)
    string_value = attribute.get("StringValue")
    binary_value = attribute.get("BinaryValue")
    if attribute.get("StringListValues") or attribute.get("BinaryListValues"):
        raise invalid_value(f"Message attribute list values in SendMessage operation are not supported. "
                            f"Attribute name: '{name}'.")
    field_name = "Binary" if base == "Binary" else "String"
    wrong = binary_value if base != "Binary" else string_value
    value = binary_value if base == "Binary" else string_value
    if wrong is not None and value is None:
        raise invalid_value(f"The message attribute '{name}' with type '{field_name}' must use field "
                            f"'{field_name}'.")
    if value is None or len(value) == 0:
        raise invalid_value(f"The message attribute '{name}' must contain non-empty message attribute value "
                            f"for message attribute type '{base}'.")
    if base == "Binary":
        return {"DataType": data_type, "BinaryValue": base64.b64encode(_as_bytes(value)).decode()}
    if _INVALID_CHARACTER.search(value):
        raise invalid_value(INVALID_CHARACTERS)
    if base == "Number":
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise invalid_value(f"Can't cast the value of message (user) attribute '{name}' to a number.")
    return {"DataType": data_type, "StringValue": value}


def wire_attributes(stored: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Stored attributes (binary kept as base64) in the shape the serializers expect (bytes)."""
    result = {}
    for name, attribute in stored.items():
        if "BinaryValue" in attribute:
            result[name] = {"DataType": attribute["DataType"],
                            "BinaryValue": base64.b64decode(attribute["BinaryValue"])}
        else:
            result[name] = dict(attribute)
    return result


def select_attributes(stored: Mapping[str, Any], names: Iterable[str] | None) -> dict[str, Any]:
    """The attributes a receiver asked for: ``All``/``.*``, exact names or ``prefix.*`` patterns."""
    wanted = list(names or [])
    if not wanted or not stored:
        return {}
    if "All" in wanted or ".*" in wanted:
        return dict(stored)
    exact = {n for n in wanted if not n.endswith(".*")}
    prefixes = tuple(n[:-1] for n in wanted if n.endswith(".*"))
    return {k: v for k, v in stored.items() if k in exact or (prefixes and k.startswith(prefixes))}


MAX_FIFO_ID = 128
_FIFO_ID = re.compile(r"^[0-9a-zA-Z!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")


def check_fifo_id(value: str, parameter: str) -> None:
    if not _FIFO_ID.match(value):
        raise invalid_value(f"Value {value} for parameter {parameter} is invalid. Reason: {parameter} can only "
                            f"include alphanumeric and punctuation characters. 1 to {MAX_FIFO_ID} in length.")


def content_dedup_id(body: bytes) -> str:
    """Content-based deduplication: the SHA-256 of the body (attributes do not count)."""
    return hashlib.sha256(body).hexdigest()


def number_is_valid(value: str) -> bool:
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False
