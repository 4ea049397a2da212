"""Route keys and route selection for HTTP APIs.

A route key is ``$default`` or ``METHOD /path`` where METHOD is an HTTP method or ``ANY`` and
the path is made of literal segments, ``{name}`` variables (one whole segment) and at most one
greedy ``{name+}`` variable, which must be the last segment.

Selection follows AWS's documented priorities: a full match of route and method first, then
a match through a greedy path variable, then the ``$default`` route; no match is a 404.
Within each group the most specific route wins: literal segments beat variables, left to
right, then a route for the request's own method beats ``ANY``. Literal routes are also kept in
a dictionary, so the common case is one lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

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


@dataclass
class Match:
    route: Any
    route_key: str
    path_parameters: dict[str, str]
    resource: str  # the route's path ("/pets/{id}"); "$default" for the default route


@dataclass
class _Entry:
    key: str
    parsed: ParsedKey
    route: Any
    rank: tuple = field(default=())


class Router:
    """Route selection over one deployed API's routes (``route`` is whatever the caller attaches)."""

    def __init__(self, routes: list[tuple[str, Any]]) -> None:
        self._literal: dict[tuple[str, str], _Entry] = {}
        self._patterns: list[_Entry] = []
        self.default: Any = None
        for key, route in routes:
            try:
                parsed = parse_route_key(key)
            except RouteKeyError:
                continue  # WebSocket-style or foreign keys never match an HTTP request
            if not parsed.method:
                self.default = route
                continue
            entry = _Entry(key, parsed, route)
            if all(kind == LITERAL for kind, _ in parsed.segments):
                self._literal[(parsed.method, parsed.path)] = entry
            entry.rank = (1 if parsed.greedy else 0, tuple(kind for kind, _ in parsed.segments),
                          1 if parsed.method == "ANY" else 0)
            self._patterns.append(entry)
        self._patterns.sort(key=lambda e: e.rank)

    def match(self, method: str, path: str) -> Match | None:
        """The route for ``method`` and the request ``path`` (percent-encoded, stage removed)."""
        decoded = unquote(path) if "%" in path else path
        entry = self._literal.get((method, decoded)) or self._literal.get(("ANY", decoded))
        if entry is not None:  # an all-literal path is the most specific match there is
            return Match(entry.route, entry.key, {}, entry.parsed.path)
        if self._patterns:
            raw_segments = path[1:].split("/")
            for entry in self._patterns:
                if entry.parsed.method != method and entry.parsed.method != "ANY":
                    continue
                params = _match_segments(entry.parsed.segments, raw_segments)
                if params is not None:
                    return Match(entry.route, entry.key, params, entry.parsed.path)
        if self.default is not None:
            return Match(self.default, DEFAULT_ROUTE, {}, DEFAULT_ROUTE)
        return None


def _match_segments(segments: tuple[tuple[int, str], ...], raw: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    count = len(segments)
    for index, (kind, text) in enumerate(segments):
        if kind == GREEDY:
            rest = raw[index:]
            if not rest or not "/".join(rest):
                return None
            params[text] = unquote("/".join(rest))
            return params
        if index >= len(raw):
            return None
        value = raw[index]
        if kind == LITERAL:
            if (unquote(value) if "%" in value else value) != text:
                return None
        else:
            if not value:
                return None
            params[text] = unquote(value)
    if len(raw) != count:
        return None
    return params
