"""Validation of parsed input against the model's constraints, worded as AWS words it.

AWS's front ends check required members, lengths, ranges and enums before an operation
runs and answer with one message listing every problem, for example::

    1 validation error detected: Value '100' at 'memorySize' failed to satisfy
    constraint: Member must have value greater than or equal to 128

Member paths are the lower-camel-case member names joined by dots; list elements are
``name.N.member`` (1-based), as AWS reports them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import regex
    from botocore.model import Shape

MAX_PROBLEMS = 10


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _child(path: str, name: str) -> str:
    return f"{path}.{_camel(name)}" if path else _camel(name)


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bytes):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return "[" + ", ".join(_render(v) for v in value) + "]" if isinstance(value, list) else "{...}"
    return str(value)


def validate(shape: Shape | None, value: Any) -> list[str]:
    """Return the constraint violations of ``value`` (empty when valid)."""
    problems: list[str] = []
    if shape is not None:
        _check(shape, value, "", problems)
    return problems[:MAX_PROBLEMS]


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict) or meta.get("document"):
            return
        required = meta.get("required", ())
        for name, member in shape.members.items():
            item = value.get(name)
            if item is None:
                if name in required:
                    problems.append(f"Value null at '{_child(path, name)}' failed to satisfy constraint: "
                                    "Member must not be null")
                continue
            _check(member, item, _child(path, name), problems)
        return
    if kind == "list":
        if not isinstance(value, list):
            return
        _check_size(value, len(value), meta, path, problems)
        for index, item in enumerate(value, start=1):
            _check(shape.member, item, f"{path}.{index}.member", problems)
        return
    if kind == "map":
        if not isinstance(value, dict):
            return
        _check_size(value, len(value), meta, path, problems)
        for key, item in value.items():
            _check(shape.key, key, f"{path}.{key}.key", problems)
            _check(shape.value, item, f"{path}.{key}.member", problems)
        return
    if kind == "string" and isinstance(value, str):
        enum = meta.get("enum")
        if enum and value not in enum:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy enum value set: [{', '.join(enum)}]")
        _check_size(value, len(value), meta, path, problems)
        pattern = meta.get("pattern")
        if pattern and (compiled := _compiled(pattern)) is not None and compiled.fullmatch(value) is None:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy regular expression pattern: {pattern}")
        return
    if kind == "blob" and isinstance(value, bytes | str):
        _check_size(value, len(value), meta, path, problems)
        return
    if kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if "min" in meta and value < meta["min"]:
            problems.append(f"Value '{_render(value)}' at '{path}' failed to satisfy constraint: "
                            f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"Value '{_render(value)}' at '{path}' failed to satisfy constraint: "
                            f"Member must have value less than or equal to {meta['max']}")


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> regex.Pattern[str] | None:
    """The model's (Java) regular expression, or None where it cannot be read.

    The ``regex`` package rather than ``re``: models use Java syntax such as ``\\p{L}``. It is
    imported on first use, off the server's start path (the catalog's warm-up loads it early).
    """
    import regex

    try:
        return regex.compile(pattern, regex.DOTALL)
    except regex.error:
        return None


def _check_size(value: Any, size: int, meta: dict, path: str, problems: list[str]) -> None:
    if "min" in meta and size < meta["min"]:
        problems.append(f"Value '{_render(value)}' at '{path}' failed to satisfy constraint: "
                        f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and size > meta["max"]:
        problems.append(f"Value '{_render(value)}' at '{path}' failed to satisfy constraint: "
                        f"Member must have length less than or equal to {meta['max']}")
