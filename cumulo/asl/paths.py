"""JSONPath for the ASL: paths, reference paths, and applying a ResultPath.

AWS distinguishes two kinds of path:

* a **Path** (InputPath, OutputPath, ItemsPath, ``.$`` payload-template values, ...) may be any
  JSONPath; one with wildcards, slices, unions, filters or ``..`` returns a list of matches;
* a **Reference Path** (ResultPath, Choice ``Variable`` and the ``...Path`` comparisons) must
  identify exactly one node: only ``.name``, ``['name']`` and ``[index]`` steps are allowed.

Definite paths (the vast majority) are resolved by a small walker here; anything else is delegated
to ``jsonpath_ng.ext``. A path may be rooted at the state data (``$``), the context object
(``$$``) or a workflow variable (``$name``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from cumulo.asl import errors

_NAME_CHARS = re.compile(r"[^.\[\]'\"()*?,@$\s]+")
_INT = re.compile(r"-?\d+")
_VAR_ROOT = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")

Segment = str | int


class PathNotFound(Exception):
    """The path matched nothing in the data."""


@dataclass(frozen=True, slots=True)
class Path:
    """A parsed path. ``segments`` is set for definite paths, ``general`` otherwise."""

    source: str
    root: str  # "$" (state data), "$$" (context object) or "var"
    variable: str | None
    segments: tuple[Segment, ...] | None
    general: Any = None

    @property
    def definite(self) -> bool:
        return self.segments is not None

    @property
    def is_reference(self) -> bool:
        return self.segments is not None and all(not isinstance(s, int) or s >= 0 for s in self.segments)

    def normalized(self) -> str:
        """Jayway's normalized form, as AWS prints it in error causes: ``$['a'][0]``."""
        if self.segments is None:
            return self.source
        out = ["$"]
        for seg in self.segments:
            out.append(f"[{seg}]" if isinstance(seg, int) else f"['{seg}']")
        return "".join(out)


def _parse_segments(text: str, pos: int) -> tuple[Segment, ...] | None:
    """Parse definite steps from ``text[pos:]``; None when the path needs the general engine."""
    segs: list[Segment] = []
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == "." and pos + 1 < n and text[pos + 1] not in ".*[":
            m = _NAME_CHARS.match(text, pos + 1)
            if not m:
                return None
            segs.append(m.group(0))
            pos = m.end()
        elif ch == "[" and pos + 1 < n and text[pos + 1] in "'\"":
            quote = text[pos + 1]
            end = text.find(quote + "]", pos + 2)
            if end < 0:
                return None
            segs.append(text[pos + 2:end])
            pos = end + 2
        elif ch == "[":
            end = text.find("]", pos)
            m = _INT.fullmatch(text, pos + 1, end) if end > 0 else None
            if not m:
                return None
            segs.append(int(m.group(0)))
            pos = end + 1
        else:
            return None
    return tuple(segs)


def _general(text: str) -> Any:
    from jsonpath_ng.ext import parse as jp_parse  # imported lazily: rarely needed, slow to import

    try:
        return jp_parse(text)
    except Exception as exc:  # jsonpath_ng raises several unrelated types
        raise ValueError(f"invalid JSONPath {text!r}: {exc}") from exc


_CACHE: dict[str, Path] = {}


def parse_path(text: str) -> Path:
    """Parse a Path (``$...``, ``$$...`` or ``$var...``); raise ValueError if it is not one."""
    cached = _CACHE.get(text)
    if cached is not None:
        return cached
    if not isinstance(text, str) or not text.startswith("$"):
        raise ValueError(f"not a path: {text!r}")
    variable = None
    if text.startswith("$$"):
        root, rest = "$$", text[2:]
    elif (m := _VAR_ROOT.match(text)) is not None:
        root, variable, rest = "var", m.group(1), text[m.end():]
    else:
        root, rest = "$", text[1:]
    if rest and rest[0] not in ".[":
        raise ValueError(f"invalid JSONPath {text!r}")
    segments = _parse_segments(rest, 0)
    general = None if segments is not None else _general("$" + rest)
    path = Path(text, root, variable, segments, general)
    if len(_CACHE) < 10_000:
        _CACHE[text] = path
    return path


def parse_reference_path(text: str) -> Path:
    """Parse a Reference Path (a path that identifies a single node)."""
    path = parse_path(text)
    if not path.is_reference:
        raise ValueError(f"not a reference path: {text!r}")
    return path


def resolve(path: Path, data: Any) -> Any:
    """The value ``path`` selects in ``data`` (a list of matches for a non-definite path).

    Raises PathNotFound for a definite path with no match. An out-of-range array index resolves
    to null, as it does on AWS (Jayway's leniency).
    """
    segments = path.segments
    if segments is None:
        return [m.value for m in path.general.find(data)]
    value = data
    for seg in segments:
        if isinstance(seg, int):
            if not isinstance(value, list):
                raise PathNotFound(path.source)
            try:
                value = value[seg]
            except IndexError:
                return None
        else:
            if not isinstance(value, dict) or seg not in value:
                raise PathNotFound(path.source)
            value = value[seg]
    return value


def apply_result_path(data: Any, path: Path | None, result: Any) -> Any:
    """Place ``result`` into ``data`` at ``path`` (a Reference Path) without mutating ``data``.

    ``None`` means ``"ResultPath": null`` (discard the result, keep the input). Missing objects
    along the path are created; a step into a non-object raises States.ResultPathMatchFailure.
    """
    if path is None:
        return data
    segments = path.segments or ()
    if not segments:
        return result
    return _set(data, segments, 0, result, path)


def _set(node: Any, segments: tuple[Segment, ...], i: int, result: Any, path: Path) -> Any:
    seg = segments[i]
    last = i == len(segments) - 1
    if isinstance(seg, int):
        if not isinstance(node, list) or seg >= len(node):
            raise _match_failure(path, node)
        copy = list(node)
        copy[seg] = result if last else _set(node[seg], segments, i + 1, result, path)
        return copy
    if not isinstance(node, dict):
        raise _match_failure(path, node)
    copy = dict(node)
    if last:
        copy[seg] = result
    else:
        child = node.get(seg)
        copy[seg] = _set({} if child is None else child, segments, i + 1, result, path)
    return copy


def _match_failure(path: Path, node: Any) -> errors.StatesError:
    return errors.StatesError(
        errors.RESULT_PATH_MATCH_FAILURE,
        f"Unable to apply ResultPath \"{path.source}\" to input \"{to_json(node)}\"",
    )


def to_json(value: Any) -> str:
    """Compact JSON, the way AWS renders data in history events and error causes."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
