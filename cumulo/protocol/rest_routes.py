"""Matching REST requests (method + path + query) to operations from their ``requestUri``.

Each operation's ``requestUri`` (``/2015-03-31/functions/{FunctionName}/invocations``,
``/tags/{ARN+}``, ``/2018-10-31/layers?find=LayerVersion``) becomes a regular expression.
When several match, the one with more literal path segments wins, then the one that needs
more literal query keys, which is how AWS front ends resolve overlapping routes such as
``GET .../provisioned-concurrency`` versus ``GET .../provisioned-concurrency?List=ALL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from botocore.model import OperationModel, ServiceModel


MAX_REMEMBERED = 4096
_UNKNOWN = object()
_LABEL = re.compile(r"\{([^}]+?)(\+?)\}")


@dataclass(frozen=True)
class Route:
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    query_literals: tuple[tuple[str, str | None], ...]
    rank: tuple[int, int, int]
    required_headers: tuple[str, ...]
    required_query: tuple[str, ...]
    #: regex group name -> the model's label name (labels may hold characters groups cannot)
    label_names: dict[str, str]

    def binds(self, query: dict[str, str], headers: dict[str, str]) -> bool:
        """Whether the request carries every required member bound to a header or query key."""
        return all(h in headers for h in self.required_headers) and all(q in query for q in self.required_query)

    def match(self, path: str, query: dict[str, str]) -> dict[str, str] | None:
        found = self.pattern.match(path)
        if found is None:
            return None
        for key, value in self.query_literals:
            if key not in query or (value is not None and query[key] != value):
                return None
        return {self.label_names[group]: unquote(raw) for group, raw in found.groupdict().items()}


def compile_route(operation: OperationModel) -> Route:
    uri = operation.http.get("requestUri", "/")
    path, _, query = uri.partition("?")
    literal_segments = 0
    regex = "^"
    position = 0
    label_names: dict[str, str] = {}
    for label in _LABEL.finditer(path):
        regex += re.escape(path[position:label.start()])
        name, greedy = label.group(1), label.group(2)
        group = re.sub(r"\W", "_", name)
        label_names[group] = name
        regex += f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)"
        position = label.end()
    regex += re.escape(path[position:])
    literal_segments = sum(1 for seg in path.split("/") if seg and "{" not in seg)
    regex = regex.rstrip("/") + "/?$" if path != "/" else "^/?$"
    literals: list[tuple[str, str | None]] = []
    for item in filter(None, query.split("&")):
        key, eq, value = item.partition("=")
        literals.append((key, value if eq else None))
    rank = (literal_segments, len(literals), -path.count("+}"))
    shape = operation.input_shape
    required = set(shape.metadata.get("required", ())) if shape is not None else set()
    members = shape.members.items() if shape else ()

    def bound(location: str) -> tuple[str, ...]:
        return tuple(member.serialization.get("name", name) for name, member in members
                     if name in required and member.serialization.get("location") == location)

    return Route(operation, operation.http.get("method", "POST"), re.compile(regex), tuple(literals), rank,
                 tuple(h.lower() for h in bound("header")), bound("querystring"), label_names)


def _leading_literals(route: Route) -> tuple[str | None, str | None]:
    """The first two path segments of the route's URI when literal (None where a label is)."""
    path = route.operation.http.get("requestUri", "/").split("?", 1)[0]
    segments = [seg for seg in path.split("/") if seg][:2]
    segments += [""] * (2 - len(segments))
    first, second = (None if "{" in seg else seg for seg in segments)
    return first, second


def _current_operations(service: ServiceModel) -> list[OperationModel]:
    """The operations to route: a deprecated one gives way to a current one at the same method and
    URI (S3's PutBucketNotification to PutBucketNotificationConfiguration, lifecycle likewise)."""
    operations = [service.operation_model(name) for name in service.operation_names]
    current = {(o.http.get("method"), o.http.get("requestUri")) for o in operations if not o.deprecated}
    return [o for o in operations
            if not o.deprecated or (o.http.get("method"), o.http.get("requestUri")) not in current]


class RouteTable:
    """All REST routes of one service, tried most specific first.

    Routes are bucketed by method and by the request's first two path segments, so a
    request is only tried against the routes that could match it.
    """

    def __init__(self, service: ServiceModel) -> None:
        routes = [compile_route(operation) for operation in _current_operations(service)]
        self._by_method: dict[str, list[Route]] = {}
        for route in sorted(routes, key=lambda r: r.rank, reverse=True):
            self._by_method.setdefault(route.method, []).append(route)
        self._keys = {id(route): _leading_literals(route) for route in routes}
        self._buckets: dict[tuple[str, str, str], list[Route]] = {}
        # (method, path, query items) -> a match that needed no headers (repeated calls, e.g. Invoke)
        self._matched: dict[tuple, tuple[OperationModel, dict[str, str]] | None] = {}

    def _candidates(self, method: str, path: str) -> list[Route]:
        segments = [seg for seg in path.split("/", 3)[1:3]]
        segments += [""] * (2 - len(segments))
        key = (method, segments[0], segments[1])
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = [route for route in self._by_method.get(method, ())
                      if self._keys[id(route)][0] in (None, segments[0])
                      and self._keys[id(route)][1] in (None, segments[1])]
            if len(self._buckets) < 4096:
                self._buckets[key] = bucket
        return bucket

    def match(self, method: str, path: str, query: dict[str, str], headers: dict[str, str] | None = None
              ) -> tuple[OperationModel, dict[str, str]] | None:
        """The most specific route. Among equally specific ones, the one whose required header and
        query members are all sent, preferring the one that requires the most (S3's PutObject,
        CopyObject and UploadPart share a path and differ by ``x-amz-copy-source`` and
        ``partNumber``/``uploadId``)."""
        cache_key = (method, path, tuple(query.items()))
        known = self._matched.get(cache_key, _UNKNOWN)
        if known is not _UNKNOWN:
            return known
        tier: list[tuple[Route, dict[str, str]]] = []
        for route in self._candidates(method, path):
            if tier and route.rank < tier[0][0].rank:
                break
            labels = route.match(path, query)
            if labels is not None:
                tier.append((route, labels))
        if len(tier) < 2:  # the answer depends on method, path and query only: remembered
            found = (tier[0][0].operation, tier[0][1]) if tier else None
            if len(self._matched) >= MAX_REMEMBERED:
                self._matched.clear()
            self._matched[cache_key] = found
            return found
        headers = headers or {}
        satisfied = [entry for entry in tier if entry[0].binds(query, headers)]
        best = max(satisfied, key=lambda e: len(e[0].required_headers) + len(e[0].required_query)) \
            if satisfied else tier[0]
        return best[0].operation, best[1]

    def path_exists(self, path: str) -> bool:
        """Whether any method has a route for this path (to tell 404 from 405)."""
        return any(r.pattern.match(path) for routes in self._by_method.values() for r in routes)

