"""Route keys and route selection for HTTP APIs.

The route key grammar is the control plane's (``cumulo.services.apigatewayv2.routekeys``).

Selection follows AWS's documented priorities: a full match of route and method first, then
a match through a greedy path variable, then the ``$default`` route; no match is a 404.
Within each group the most specific route wins: literal segments beat variables, left to
right, then a route for the request's own method beats ``ANY``. Literal routes are also kept in
a dictionary, so the common case is one lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from cumulo.services.apigatewayv2.routekeys import (
    DEFAULT_ROUTE,
    GREEDY,
    LITERAL,
    ParsedKey,
    RouteKeyError,
    parse_route_key,
)


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
