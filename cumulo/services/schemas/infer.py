"""Schema inference: the OpenAPI 3 (or JSONSchema Draft 4) document describing EventBridge events,
shaped like the schemas AWS's discovery writes to the ``discovered-schemas`` registry.

The event envelope is the ``AWSEvent`` component (its ``detail`` a reference to the detail's
own component, named after the detail type); nested objects become their own components.
Properties seen in every event are ``required``. Two events of the same source and detail type
with the same shape give the same document, so a new schema version is written only when the
shape changes.
"""

from __future__ import annotations

import json
import re
from typing import Any

DISCOVERED_REGISTRY = "discovered-schemas"
ENVELOPE = {"account": "string", "detail-type": "string", "id": "string", "region": "string",
            "resources": "array", "source": "string", "time": "string", "version": "string"}


def discovered_name(source: str, detail_type: str) -> str:
    """AWS's name for a discovered schema: ``source@DetailTypeWithoutSpaces``."""
    return f"{source}@{re.sub(r'[^A-Za-z0-9]', '', detail_type.title()) or 'Event'}"


def component_name(text: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Detail"
    return name if not name[0].isdigit() else "C" + name


def _schema(value: Any, name: str, components: dict[str, Any], ref_prefix: str) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "number"}
    if isinstance(value, float):
        return {"type": "number", "format": "double"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array", "items": _schema(value[0], name, components, ref_prefix) if value else {}}
    if isinstance(value, dict):
        component = component_name(name)
        described: dict[str, Any] = {"type": "object", "required": sorted(value)}
        components[component] = described  # before its nested objects: parents come first
        described["properties"] = {k: _schema(v, k, components, ref_prefix) for k, v in sorted(value.items())}
        return {"$ref": ref_prefix + component}
    return {}


def infer_event_schema(event: dict[str, Any], schema_type: str = "OpenApi3") -> dict[str, Any]:
    detail_name = component_name(event.get("detail-type") or "Detail")
    ref_prefix = "#/components/schemas/" if schema_type == "OpenApi3" else "#/definitions/"
    components: dict[str, Any] = {}
    _schema(event.get("detail") or {}, detail_name, components, ref_prefix)
    envelope = {"type": "object", "required": sorted(set(ENVELOPE) & set(event) | {"detail"}),
                "x-amazon-events-detail-type": event.get("detail-type"),
                "x-amazon-events-source": event.get("source"),
                "properties": {**{k: ({"type": "array", "items": {"type": "string"}} if kind == "array" else
                                      {"type": kind}) for k, kind in ENVELOPE.items()},
                               "detail": {"$ref": ref_prefix + detail_name}}}
    if schema_type == "OpenApi3":
        return {"openapi": "3.0.0", "info": {"version": "1.0.0", "title": detail_name}, "paths": {},
                "components": {"schemas": {"AWSEvent": envelope, **components}}}
    return {"$schema": "http://json-schema.org/draft-04/schema#", "title": "AWSEvent", "definitions": components,
            **envelope}


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
