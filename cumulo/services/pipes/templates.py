"""A pipe's ``InputTemplate``: ``<$.path>`` JSON paths and ``<aws.pipes.*>`` variables filled per event.

As on AWS, a placeholder written inside a JSON string is replaced by the value's text, and one
written outside a string by the value as JSON. An SQS record's ``body`` that holds JSON is
parsed, so ``<$.body.field>`` reaches into it (implicit body parsing).
"""

from __future__ import annotations

import json
import re
from typing import Any

PLACEHOLDER = re.compile(r"<(\$(?:\.[^<>\s]*)?|aws\.pipes\.[a-z.-]+)>")
PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


class TemplateError(ValueError):
    """A variable the template names is unknown."""


def parsed_event(event: Any) -> Any:
    """The event as paths see it: a JSON ``body`` (SQS) or ``data`` (streams) string is parsed."""
    if isinstance(event, dict):
        for key in ("body", "data"):
            if isinstance(event.get(key), str):
                try:
                    value = json.loads(event[key])
                except ValueError:
                    continue
                if isinstance(value, dict | list):
                    event = {**event, key: value}
    return event


def lookup(event: Any, path: str) -> Any:
    """The value at a simple JSON path (``$``, ``$.a.b``, ``$.a[0]``); None when it is absent."""
    value = event
    for name, index in PATH_STEP.findall(path[1:]):
        if name and isinstance(value, dict):
            value = value.get(name)
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return None
    return value


def render(template: str, event: Any, variables: dict[str, str]) -> str:
    """``template`` with every placeholder replaced for ``event`` (the pipe's variables included)."""
    data = parsed_event(event)
    out: list[str] = []
    position, in_string = 0, False
    for match in PLACEHOLDER.finditer(template):
        literal = template[position:match.start()]
        in_string = _string_state(literal, in_string)
        out.append(literal)
        out.append(_value_text(_value(match.group(1), event, data, variables), in_string))
        position = match.end()
    out.append(template[position:])
    return "".join(out)


def _value(name: str, event: Any, data: Any, variables: dict[str, str]) -> Any:
    if name.startswith("$"):
        return lookup(data, name)
    if name == "aws.pipes.event":
        return json.dumps(event)
    if name == "aws.pipes.event.json":
        return event
    if name not in variables:
        raise TemplateError(f"Unknown variable <{name}> in InputTemplate.")
    return variables[name]


def _value_text(value: Any, in_string: bool) -> str:
    if in_string:
        text = value if isinstance(value, str) else json.dumps(value)
        return json.dumps(text)[1:-1]
    return json.dumps(value)


def _string_state(literal: str, in_string: bool) -> bool:
    """Whether a JSON string is open after ``literal`` (escapes respected)."""
    escaped = False
    for char in literal:
        if escaped:
            escaped = False
        elif char == "\\" and in_string:
            escaped = True
        elif char == '"':
            in_string = not in_string
    return in_string
