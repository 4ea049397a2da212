"""Hypothesis strategies that generate values for botocore shapes, and value normalization.

Generated inputs respect what a real client can put on the wire for each binding (URI labels
are non-empty, headers are printable ASCII, timestamps are whole seconds so every timestamp
format can carry them), so a round trip through botocore's serializer and our parser (or our
serializer and botocore's parser) must reproduce them exactly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.model import Shape
from hypothesis import strategies as st

ASCII = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
TEXT = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00")
EPOCH = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)


def _timestamps() -> st.SearchStrategy[dt.datetime]:
    return st.integers(0, 40 * 365 * 86400).map(lambda s: EPOCH + dt.timedelta(seconds=s))


def for_shape(shape: Shape, protocol: str, location: str | None = None, depth: int = 0,
              required: bool = False) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if meta.get("document") or meta.get("union") or depth > 3:
            return st.just({})
        required_names = set(meta.get("required", ()))
        members = {}
        optional = {}
        for name, member in shape.members.items():
            member_location = member.serialization.get("location")
            if member_location in ("statusCode",) or member.metadata.get("eventstream"):
                continue
            if member_location == "headers" or member.serialization.get("jsonvalue"):
                continue
            strategy = for_shape(member, protocol, member_location, depth + 1,
                                 required=member_location == "uri")
            if shape.serialization.get("payload") == name and member.type_name == "blob":
                # botocore reads non-streaming blob payloads as UTF-8 text (Lambda's JSON payloads).
                strategy = st.text(TEXT, max_size=16).map(str.encode)
            if name in required_names or member_location == "uri":
                members[name] = strategy
            else:
                optional[name] = strategy
        return st.fixed_dictionaries(members, optional=optional)
    if kind == "list":
        if depth > 3:
            return st.just([])
        minimum = 1 if protocol in ("query", "rest-xml") or location else 0
        return st.lists(for_shape(shape.member, protocol, location, depth + 1), min_size=minimum, max_size=3)
    if kind == "map":
        if depth > 3:
            return st.just({})
        key_strategy = st.text(ASCII, min_size=1, max_size=8) if location else for_shape(
            shape.key, protocol, "map-key", depth + 1)
        minimum = 1 if protocol in ("query", "rest-xml") or location else 0
        return st.dictionaries(key_strategy, for_shape(shape.value, protocol, location, depth + 1),
                               min_size=minimum, max_size=3)
    if kind == "string":
        enum = meta.get("enum")
        if enum:
            return st.sampled_from(enum)
        if location in ("header", "uri", "querystring", "map-key") or protocol in ("query", "rest-xml"):
            return st.text(ASCII, min_size=1, max_size=12)
        return st.text(TEXT, min_size=0, max_size=12)
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "long"):
        low = int(meta.get("min", -(2**31)))
        high = int(meta.get("max", 2**31 - 1))
        return st.integers(max(low, -(2**31)), min(high, 2**31 - 1))
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False, width=32).map(float)
    if kind == "timestamp":
        return _timestamps()
    if kind == "blob":
        return st.binary(min_size=1 if location or protocol in ("query", "rest-xml") else 0, max_size=16)
    return st.none()


def normalize(value: Any) -> Any:
    """Comparable form: datetimes as UTC epoch seconds, strings of bytes as bytes, empties dropped."""
    if isinstance(value, dict):
        cleaned = {k: normalize(v) for k, v in value.items() if k != "ResponseMetadata"}
        return {k: v for k, v in cleaned.items() if v not in (None, [], {}, b"")}
    if isinstance(value, list):
        # An empty structure in a list has no wire form in query/XML protocols.
        return [item for item in (normalize(v) for v in value) if item != {}]
    if isinstance(value, dt.datetime):
        return round((value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp())
    if isinstance(value, bytearray):
        return bytes(value)
    if hasattr(value, "read"):
        return value.read()
    return value
