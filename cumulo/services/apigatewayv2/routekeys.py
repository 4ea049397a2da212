"""The grammar of HTTP API route keys, shared by the control plane (which checks keys) and the data
plane (which routes requests by them).

A route key is ``$default`` or ``METHOD /path`` where METHOD is an HTTP method or ``ANY`` and
the path is made of literal segments, ``{name}`` variables (one whole segment) and at most one
greedy ``{name+}`` variable, which must be the last segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

METHODS = ("ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
DEFAULT_ROUTE = "$default"
_VARIABLE = re.compile(r"^\{([A-Za-z0-9._\-:]+)(\+?)\}$")
LITERAL, VARIABLE, GREEDY = 0, 1, 2


class RouteKeyError(ValueError):
    """A route key that is not ``$default`` or ``METHOD /path`` with a valid path."""


@dataclass(frozen=True)
class ParsedKey:
    method: str  # "ANY", "GET"... ; "" for $default
    path: str
    segments: tuple[tuple[int, str], ...]  # (kind, literal text or variable name)

    @property
    def greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1][0] == GREEDY


def parse_route_key(key: str) -> ParsedKey:
    if key == DEFAULT_ROUTE:
        return ParsedKey("", "", ())
    method, sep, path = key.partition(" ")
    if not sep or method not in METHODS:
        raise RouteKeyError(f"Invalid route key: {key}. Route keys must be $default or an HTTP method "
                            f"({', '.join(METHODS)}) followed by a space and a path starting with '/'")
    if not path.startswith("/") or " " in path:
        raise RouteKeyError(f"Invalid route key: {key}. The path must start with '/' and contain no spaces")
    return ParsedKey(method, path, parse_path(path, key))


def parse_path(path: str, key: str = "") -> tuple[tuple[int, str], ...]:
    raw = path[1:].split("/")
    segments: list[tuple[int, str]] = []
    names: set[str] = set()
    for index, text in enumerate(raw):
        if "{" in text or "}" in text:
            found = _VARIABLE.match(text)
            if found is None:
                raise RouteKeyError(f"Invalid route key: {key or path}. A path variable must be a whole "
                                    f"segment such as {{id}} or {{proxy+}}")
            name, plus = found.group(1), found.group(2)
            if plus and index != len(raw) - 1:
                raise RouteKeyError(f"Invalid route key: {key or path}. A greedy path variable must be "
                                    "the last segment of the path")
            if name in names:
                raise RouteKeyError(f"Invalid route key: {key or path}. Duplicate path variable {name}")
            names.add(name)
            segments.append((GREEDY if plus else VARIABLE, name))
        else:
            if text == "" and len(raw) > 1:
                raise RouteKeyError(f"Invalid route key: {key or path}. Empty path segment")
            segments.append((LITERAL, text))
    return tuple(segments)
