"""``patchOperations``: how every Update* operation of API Gateway v1 changes a record.

Each operation is ``{op, path, value, from}`` with ``op`` one of add, remove, replace, move, copy
(test is refused, as AWS refuses it). ``path`` is a JSON pointer into the record (``~1`` for ``/``,
``~0`` for ``~``). A pointer that ends inside a list of strings (``/binaryMediaTypes/image~1png``)
adds or removes that string. Values arrive as strings; members whose model type is boolean or a
number are converted (``CONVERSIONS``), and a value that does not convert is a BadRequest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cumulo.services.apigateway.repository import bad_request

Handler = Callable[[dict[str, Any], str, list[str], Any], bool]

_BOOLEANS = {"enabled", "apiKeyRequired", "cacheClusterEnabled", "tracingEnabled", "disableExecuteApiEndpoint",
             "validateRequestBody", "validateRequestParameters", "metricsEnabled", "dataTraceEnabled",
             "cachingEnabled", "requireAuthorizationForCacheControl", "cacheDataEncrypted", "useStageCache",
             "insecureSkipVerification"}
_INTEGERS = {"burstLimit", "limit", "offset", "timeoutInMillis", "authorizerResultTtlInSeconds",
             "minimumCompressionSize", "cacheTtlInSeconds", "remaining", "used"}
_FLOATS = {"rateLimit", "percentTraffic"}


def unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def split(path: str) -> list[str]:
    if not path.startswith("/"):
        raise bad_request(f"Invalid patch path {path}")
    return [unescape(s) for s in path[1:].split("/")]


def convert(name: str, value: Any) -> Any:
    """A patch value (a string) as the member ``name``'s type."""
    if not isinstance(value, str):
        return value
    try:
        if name in _BOOLEANS:
            if value.lower() not in ("true", "false"):
                raise ValueError
            return value.lower() == "true"
        if name in _INTEGERS:
            return int(value)
        if name in _FLOATS:
            return float(value)
    except ValueError:
        raise bad_request(f"Invalid value '{value}' for {name}") from None
    return value


def apply(record: dict[str, Any], operations: list[dict[str, Any]] | None, allowed: set[str],
          special: Handler | None = None) -> None:
    """Apply ``operations`` to ``record`` in place. ``allowed`` names the top-level members that may
    change; ``special(record, op, segments, value)`` may take an operation over (returns True)."""
    for operation in operations or []:
        op = operation.get("op")
        path = operation.get("path") or ""
        if op not in ("add", "remove", "replace", "move", "copy"):
            raise bad_request(f"Invalid patch operation specified. Must be one of: [add, remove, replace, move, "
                              f"copy]; {op} is not supported")
        segments = split(path)
        value = operation.get("value")
        if special is not None and special(record, op, segments, value):
            continue
        if segments[0] not in allowed:
            raise bad_request(f"Invalid patch path {path}")
        if op in ("move", "copy"):
            source = split(operation.get("from") or "")
            found = _get(record, source)
            if op == "move":
                _remove(record, source)
            _set(record, segments, found)
        elif op == "remove":
            _remove(record, segments)
        else:
            _set(record, segments, convert(segments[-1], value), add=op == "add")


def _get(record: dict[str, Any], segments: list[str]) -> Any:
    target: Any = record
    for segment in segments:
        if not isinstance(target, dict) or segment not in target:
            raise bad_request(f"Invalid patch path /{'/'.join(segments)}")
        target = target[segment]
    return target


def _set(record: dict[str, Any], segments: list[str], value: Any, add: bool = False) -> None:
    target: Any = record
    for segment in segments[:-1]:
        if isinstance(target, list):
            break
        found = target.get(segment)
        if found is None:
            found = target[segment] = {}
        target = found
    last = segments[-1]
    if isinstance(target, list):  # /binaryMediaTypes/image~1png
        if last not in target:
            target.append(last)
        return
    if isinstance(target.get(last), list) and add:
        items = value if isinstance(value, list) else [value]
        target[last].extend(v for v in items if v not in target[last])
        return
    target[last] = value


def _remove(record: dict[str, Any], segments: list[str]) -> None:
    target: Any = record
    for segment in segments[:-1]:
        target = target.get(segment) if isinstance(target, dict) else None
        if target is None:
            return
    last = segments[-1]
    if isinstance(target, list):
        if last in target:
            target.remove(last)
    elif isinstance(target, dict):
        target.pop(last, None)
