"""Shape-driven XML: writing query and rest-xml response bodies, reading rest-xml requests."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from cumulo.protocol.errors import SerializationError
from cumulo.protocol.query_codec import read_scalar
from cumulo.protocol.values import encode_blob, format_timestamp

if TYPE_CHECKING:
    from botocore.model import Shape


def _text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return str(format_timestamp(value, shape.serialization.get("timestampFormat", "iso8601")))
    if kind == "blob":
        return encode_blob(value)
    if kind in ("float", "double") and isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    return str(value)


def write_xml(parent: ET.Element, name: str, shape: Shape, value: Any) -> None:
    """Append ``value`` under ``parent`` as element(s) called ``name``."""
    if value is None:
        return
    kind = shape.type_name
    if kind == "list":
        item_shape = shape.member
        if shape.serialization.get("flattened"):
            item_name = item_shape.serialization.get("name", name)
            for item in value:
                write_xml(parent, item_name, item_shape, item)
            return
        container = ET.SubElement(parent, name)
        item_name = item_shape.serialization.get("name", "member")
        for item in value:
            write_xml(container, item_name, item_shape, item)
        return
    if kind == "map":
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        if shape.serialization.get("flattened"):
            for key, item in value.items():
                entry = ET.SubElement(parent, name)
                write_xml(entry, key_name, shape.key, key)
                write_xml(entry, value_name, shape.value, item)
            return
        container = ET.SubElement(parent, name)
        for key, item in value.items():
            entry = ET.SubElement(container, "entry")
            write_xml(entry, key_name, shape.key, key)
            write_xml(entry, value_name, shape.value, item)
        return
    element = ET.SubElement(parent, name)
    if kind == "structure":
        write_members(element, shape, value)
    else:
        element.text = _text(shape, value)


def write_members(element: ET.Element, shape: Shape, value: dict[str, Any]) -> None:
    """Write the body members of a structure into ``element`` (attributes and children); a
    prefixed attribute's namespace is declared on the element (S3's ``xsi:type``)."""
    namespace = shape.serialization.get("xmlNamespace")
    if isinstance(namespace, dict) and namespace.get("prefix"):
        element.set(f"xmlns:{namespace['prefix']}", namespace["uri"])
    for member_name, member in shape.members.items():
        item = value.get(member_name)
        if item is None or member.serialization.get("location"):
            continue
        wire = member.serialization.get("name", member_name)
        if member.serialization.get("xmlAttribute"):
            element.set(wire, _text(member, item))
        else:
            write_xml(element, wire, member, item)


def to_bytes(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode").encode()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_xml(shape: Shape, element: ET.Element, where: str = "") -> Any:
    """Convert an XML element to Python according to ``shape`` (rest-xml request bodies)."""
    kind = shape.type_name
    if kind == "structure":
        result: dict[str, Any] = {}
        children: dict[str, list[ET.Element]] = {}
        for child in element:
            children.setdefault(_local(child.tag), []).append(child)
        for member_name, member in shape.members.items():
            if member.serialization.get("location"):
                continue
            wire = member.serialization.get("name", member_name)
            if member.serialization.get("xmlAttribute"):
                raw = next((v for k, v in element.attrib.items() if _local(k) == wire), None)
                if raw is not None:
                    result[member_name] = read_scalar(member, raw, wire)
                continue
            if member.type_name == "list" and member.serialization.get("flattened"):
                item_name = member.member.serialization.get("name", wire)
                found = children.get(item_name)
                if found:
                    result[member_name] = [read_xml(member.member, c, wire) for c in found]
                continue
            found = children.get(wire)
            if found:
                result[member_name] = read_xml(member, found[0], f"{where}.{wire}" if where else wire)
        return result
    if kind == "list":
        item_name = shape.member.serialization.get("name", "member")
        return [read_xml(shape.member, c, where) for c in element if _local(c.tag) == item_name]
    if kind == "map":
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        result = {}
        for entry in element:
            parts = {_local(c.tag): c for c in entry}
            if key_name not in parts:
                raise SerializationError(f"Map entry of '{where}' is missing its {key_name}")
            value_element = parts.get(value_name)
            result[parts[key_name].text or ""] = (
                read_xml(shape.value, value_element, where) if value_element is not None else None)
        return result
    return read_scalar(shape, element.text or "", where)


class MalformedXml(SerializationError):
    """The body is not well-formed XML."""


def parse_document(body: bytes) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise MalformedXml(f"Malformed XML: {exc}") from exc
