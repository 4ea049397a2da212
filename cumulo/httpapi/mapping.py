"""Mapping expressions: ``$request.header.name``, ``$request.body.a.b``, ``$context.requestId``...

Used by identity sources, AWS service integration parameters, HTTP integration parameter
mapping and response mapping. A value is either one whole expression (``$request.body``) or
text with ``${...}`` interpolations (``prefix-${request.path.id}``); anything else is a static
value. An expression that names nothing yields None.

``$request.body.<path>`` reads the JSON body with a JSONPath-like path (``a.b``, ``items[0]``);
objects and arrays come back as JSON text, as API Gateway passes them on.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.httpapi.call import Call

_INTERPOLATION = re.compile(r"\$\{([^}]+)\}")
_PATH_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]|\['([^']+)'\]")


class Response:
    """What ``$response.*`` expressions read: the integration's status, headers and body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body


def evaluate(expression: str, call: Call, response: Response | None = None) -> str | None:
    """The value of a mapping value: one expression, an interpolated string, or a static string."""
    if expression.startswith("$") and not expression.startswith("${"):
        value = _lookup(expression[1:], call, response)
        return _text(value)
    if "${" in expression:
        def replace(found: re.Match[str]) -> str:
            value = _text(_lookup(found.group(1), call, response))
            return value if value is not None else ""
        return _INTERPOLATION.sub(replace, expression)
    return expression


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _lookup(name: str, call: Call, response: Response | None) -> Any:
    if name.startswith("request."):
        return _request_value(name[len("request."):], call)
    if name.startswith("context."):
        return call.context_value(name[len("context."):])
    if name.startswith("stageVariables."):
        return call.stage.variables.get(name[len("stageVariables."):])
    if name.startswith("response.") and response is not None:
        rest = name[len("response."):]
        if rest == "statuscode":
            return str(response.status)
        if rest.startswith("header."):
            return response.headers.get(rest[len("header."):].lower())
        if rest == "body":
            return response.body.decode("utf-8", "replace")
        if rest.startswith("body."):
            return json_path(_json(response.body), rest[len("body."):])
    return None


def _request_value(name: str, call: Call) -> Any:
    if name.startswith("header."):
        values = call.header_lists.get(name[len("header."):].lower())
        return ",".join(values) if values else None
    if name.startswith("querystring."):
        values = call.query_lists.get(name[len("querystring."):])
        return ",".join(values) if values else None
    if name == "path":
        return call.path
    if name.startswith("path."):
        return call.path_parameters.get(name[len("path."):])
    if name == "body":
        return call.request.body.decode("utf-8", "replace") if call.request.body else None
    if name.startswith("body."):
        return json_path(_json(call.request.body), name[len("body."):])
    return None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def json_path(document: Any, path: str) -> Any:
    """Follow ``a.b[0]['c d']`` into a JSON document (None when a step is missing)."""
    current = document
    position = 0
    while position < len(path):
        found = _PATH_STEP.match(path, position)
        if found is None or found.end() == position:
            return None
        position = found.end()
        key, index, quoted = found.groups()
        if index is not None:
            if not isinstance(current, list) or int(index) >= len(current):
                return None
            current = current[int(index)]
        else:
            name = quoted if quoted is not None else key
            if not isinstance(current, dict) or name not in current:
                return None
            current = current[name]
    return current
